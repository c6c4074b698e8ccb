"""The Python blocks of a Markdown page, and how a test runs one: a block that
imports torch or jax is skipped with the reason where that library is missing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


def python_blocks(path: Path) -> list[str]:
    """The bodies of the page's fenced ```python blocks, in order."""
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def run_block(code: str, filename: str) -> None:
    """Run one block in a fresh namespace."""
    for module in re.findall(r"^import (torch|jax)\b", code, flags=re.M):
        pytest.importorskip(module, reason=f"{module} is not installed")
    exec(compile(code, filename, "exec"), {"__name__": "docs_block"})
