"""Docs that are generated from the code stay in step with it."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_cli_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_cli_reference.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_doc_page_is_linked_from_the_index() -> None:
    index = (REPO / "docs" / "index.md").read_text()
    pages = sorted(path.name for path in (REPO / "docs").glob("*.md") if path.name != "index.md")
    assert [page for page in pages if f"({page})" not in index] == []


def test_conformance_table_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_conformance.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
