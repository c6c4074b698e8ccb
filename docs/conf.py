"""Sphinx configuration of arraymix's documentation site.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (the tests run
this with warnings as errors). Pages are Markdown (MyST); the API reference
is generated from the numpydoc docstrings.
"""

from __future__ import annotations

import arraymix

project = "arraymix"
author = "the arraymix developers"
copyright = "2026, the arraymix developers"
version = release = arraymix.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "experiment/*.md"]  # run outputs, shown in cli.md

# MyST: anchors for headings down to ###, so pages can link to sections;
# dollar math for the formulas.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath", "colon_fence"]

# numpydoc: the class pages list their members once, from their own docstrings.
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"

html_theme = "pydata_sphinx_theme"
html_title = f"arraymix {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False
