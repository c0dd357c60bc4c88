"""A file for the demo's ``ce ruff check`` to lint: it has an unused import."""

import os
