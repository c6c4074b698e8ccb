"""The documentation site: it builds with warnings as errors, every page is
in it, every public name has its reference entry, and every Python block on
every page runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import arraymix
from markdown_blocks import python_blocks, run_block

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md"))
BLOCKS = [(page, i, code) for page in PAGES for i, code in enumerate(python_blocks(page))]


@pytest.mark.parametrize(("page", "index", "code"), BLOCKS,
                         ids=[f"{p.stem}-{i}" for p, i, _ in BLOCKS])
def test_docs_block_runs(page, index, code):
    run_block(code, f"{page.relative_to(ROOT)} block {index}")


def test_docs_have_examples_on_the_guide_pages():
    with_blocks = {p.stem for p, _, _ in BLOCKS}
    assert {"start-numpy", "start-torch", "start-jax", "cutmix", "mixer", "design"} <= with_blocks


@pytest.fixture(scope="module")
def site():
    """Build the site into docs/_build/html, as a user would, warnings as errors."""
    if importlib.util.find_spec("sphinx") is None:
        pytest.skip("sphinx is not installed (the docs extra brings it)")
    out = DOCS / "_build" / "html"
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html",
         str(DOCS), str(out)],
        capture_output=True, text=True, timeout=600, check=False, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_every_page_is_built(site):
    assert (site / "index.html").is_file()
    missing = [p.name for p in PAGES if not (site / f"{p.stem}.html").is_file()]
    assert missing == []


def test_every_public_name_has_a_reference_entry(site):
    api = (site / "api.html").read_text()
    missing = [name for name in arraymix.__all__ if f'id="arraymix.{name}"' not in api]
    assert missing == []
    # the numpydoc sections were parsed, not left as plain text
    assert api.count(">Parameters<") >= len(arraymix.__all__) - 2


def test_changelog_page_is_the_changelog(site):
    page = (site / "changelog.html").read_text()
    assert f"{arraymix.__version__}" in page
    assert 'href="compatibility.html"' in page
