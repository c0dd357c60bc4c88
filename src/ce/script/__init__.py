"""Script mode: inline metadata (PEP 723 and legacy conda-execute), editing it, and running scripts."""
