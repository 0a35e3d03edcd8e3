"""Sphinx configuration of the curvopt documentation.

Build (as CI does): ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
No extension fetches anything from the network (no intersphinx inventories), so the build
works offline.
"""

import os
import sys

# Document the checkout the docs live in, also when curvopt is not installed.
sys.path.insert(0, os.path.abspath(".."))

import curvopt  # noqa: E402

project = "curvopt"
author = "curvopt developers"
copyright = "curvopt developers"
release = curvopt.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
]

# Single backticks in the docstrings name Python objects: link them where Sphinx knows the target,
# render the rest as code (unresolved py:obj references are not warnings unless nitpicky).
default_role = "py:obj"

autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # the numpydoc Parameters sections carry the types

# numpydoc: members are documented explicitly in api/*.rst, not as autosummary tables (which would
# need generated stub pages).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

templates_path = []
exclude_patterns = ["_build"]
root_doc = "index"

html_theme = "alabaster"
html_theme_options = {
    "description": "Second-order optimization and curvature analysis from a gradient alone",
    "fixed_sidebar": True,
}
html_static_path = []
