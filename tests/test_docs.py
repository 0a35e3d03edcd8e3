"""The documentation cannot drift from the code.

* every ``.. code-block:: python`` of every page under docs/ runs, the blocks of a page in order in
  one fresh namespace, in a temporary directory, with matplotlib's Agg backend (and, as everywhere
  in this suite, warnings are errors);
* no Python snippet hides in another form (``>>>`` prompts, ``.. code::``, ``.. doctest::``) that
  the first test would not run;
* the examples in the docstrings the API reference renders pass as doctests;
* every script in examples/ is run by some test (examples/vibrations.py by this file);
* Sphinx builds the docs with warnings as errors, as CI does.

A page that needs an optional dependency says so in an rST comment, ``.. requires: ase tblite``;
it is skipped (not failed) where those are missing.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import io
import re
import textwrap
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)

_CODE_BLOCK = re.compile(r"^(?P<indent>[ \t]*)\.\. code-block::[ \t]*python[ \t]*$")
_REQUIRES = re.compile(r"^\.\. requires:(?P<modules>.*)$", re.MULTILINE)
# directives that would show Python without running it through the snippet test
_OTHER_PYTHON = re.compile(
    r"^\s*\.\. (?:code-block::\s*(?!python\s*$)(?:python3?|py|pycon|ipython\w*)\b"
    r"|(?:code|sourcecode)::\s*(?:python3?|py|pycon|ipython\w*)\b"
    r"|(?:doctest|testcode|testsetup|ipython|jupyter-execute|plot)::)",
    re.MULTILINE,
)
_AUTODOC = re.compile(r"^\.\. (?P<kind>auto(?:function|class|module|method|data))::\s*(?P<name>[\w.]+)", re.MULTILINE)
_CURRENT = re.compile(r"^\.\. currentmodule::\s*(?P<name>[\w.]+)", re.MULTILINE)


def python_blocks(path):
    """The ``.. code-block:: python`` blocks of an rST page: a list of (first line number, code)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = _CODE_BLOCK.match(lines[i])
        i += 1
        if not match:
            continue
        indent = len(match["indent"].expandtabs())
        # directive options (":caption: ...") come first, then a blank line, then the body
        while i < len(lines) and lines[i].strip().startswith(":"):
            i += 1
        body, start = [], None
        while i < len(lines):
            line = lines[i]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            if start is None and line.strip():
                start = i + 1
            body.append(line)
            i += 1
        code = textwrap.dedent("\n".join(body)).strip("\n")
        if code:
            blocks.append((start, code))
    return blocks


def required_modules(path):
    return [m for match in _REQUIRES.finditer(path.read_text(encoding="utf-8")) for m in match["modules"].split()]


def _page_id(path):
    return str(path.relative_to(DOCS))


PAGES_WITH_CODE = [p for p in PAGES if python_blocks(p)]


def test_the_docs_have_snippets():
    # the guides exist and carry code; an empty list would make the snippet test pass vacuously
    assert len(PAGES_WITH_CODE) >= 4, [str(p) for p in PAGES_WITH_CODE]


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=_page_id)
def test_page_snippets_run(page, tmp_path, monkeypatch):
    for module in required_modules(page):
        pytest.importorskip(module)
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        pass
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for start, code in python_blocks(page):
        # padded so that a traceback names the line of the .rst file
        compiled = compile("\n" * (start - 1) + code, str(page), "exec")
        out = io.StringIO()
        with redirect_stdout(out):
            exec(compiled, namespace)
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
    except ImportError:
        pass


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_no_python_outside_code_blocks(page):
    text = page.read_text(encoding="utf-8")
    other = _OTHER_PYTHON.findall(text)
    assert not other, f"{page}: write Python as '.. code-block:: python' so that it is run: {other}"
    prompts = [n + 1 for n, line in enumerate(text.splitlines()) if line.lstrip().startswith(">>>")]
    assert not prompts, f"{page}: '>>>' prompts at lines {prompts}; use '.. code-block:: python'"


def test_block_extraction(tmp_path):
    # the parser the snippet test relies on, on a page written for it
    page = tmp_path / "page.rst"
    text = textwrap.dedent(
        """\
        Title
        =====

        .. code-block:: python
           :caption: first

           x = 1
           if x:
               y = 2

           z = 3

        Text.

          .. code-block:: python

             w = 4

        .. code-block:: bash

           echo no
        """
    )
    page.write_text(text, encoding="utf-8")
    blocks = python_blocks(page)
    assert blocks == [(7, "x = 1\nif x:\n    y = 2\n\nz = 3"), (17, "w = 4")]


# ------------------------------------------------------------------ docstrings of the API reference


def _documented_objects():
    """(name, object) for every autodoc target of the API reference."""
    found = []
    for page in sorted((DOCS / "api").glob("*.rst")):
        text = page.read_text(encoding="utf-8")
        events = sorted([(m.start(), "current", m["name"]) for m in _CURRENT.finditer(text)]
                        + [(m.start(), m["kind"], m["name"]) for m in _AUTODOC.finditer(text)])
        current = None
        for _, kind, name in events:
            if kind == "current":
                current = name
                continue
            if kind == "automodule":
                found.append((name, importlib.import_module(name)))
                continue
            full = name if current is None else f"{current}.{name}"
            module_name, _, attr = full.rpartition(".")
            found.append((full, getattr(importlib.import_module(module_name), attr)))
    return found


def test_api_docstring_examples_pass():
    pytest.importorskip("ase")  # the reference documents curvopt.chem
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    n_examples = 0
    for name, obj in _documented_objects():
        # the globals of the object's module, as `pytest --doctest-modules` would give
        for test in finder.find(obj, name):
            n_examples += len(test.examples)
            out = io.StringIO()
            result = runner.run(test, out=out.write)
            assert result.failed == 0, out.getvalue()
    assert n_examples >= 10  # the reference does render examples


# ------------------------------------------------------------------ examples/


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"curvopt_docs_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vibrations_example_matches_ase():
    pytest.importorskip("ase")
    pytest.importorskip("tblite")
    with redirect_stdout(io.StringIO()) as out:
        rows = load_example("vibrations").main(names=("H2O",))
    res, ase_frequencies, ase_calls = rows["H2O"]
    assert "max |curvopt - ASE|" in out.getvalue()
    # ASE's own finite-difference Hessian is the reference: three modes, within a few cm^-1
    # (ASE displaces by 0.01 Å, curvopt by 5e-3 Å; both central differences)
    ase_real = np.sort(np.abs(ase_frequencies))[6:]
    np.testing.assert_allclose(np.sort(res.frequencies), ase_real, atol=5.0)
    assert res.is_minimum
    assert ase_calls == 6 * 3 + 1  # ASE displaces every coordinate both ways
    assert res.n_force_calls < ase_calls


def test_every_example_is_run_by_a_test():
    tests = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py")}
    missing = []
    for script in sorted(EXAMPLES.glob("*.py")):
        literal = re.compile(rf"""["']{re.escape(script.stem)}(?:\.py)?["']""")
        if not any("examples" in text.lower() and literal.search(text) for text in tests.values()):
            missing.append(script.name)
    assert not missing, f"examples/ scripts no test runs: {missing}"


# ------------------------------------------------------------------ the Sphinx build


def test_sphinx_build_has_no_warnings(tmp_path, capsys):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("ase")  # the API reference imports curvopt.chem
    from sphinx.cmd.build import build_main

    status = build_main(["-W", "--keep-going", "-b", "html", "-q", "-d", str(tmp_path / "doctrees"),
                         str(DOCS), str(tmp_path / "html")])
    assert status == 0, capsys.readouterr().err
    assert (tmp_path / "html" / "index.html").exists()


@pytest.mark.parametrize("line, hidden", [
    (".. code-block:: python", False), (".. code-block:: text", False), (".. literalinclude:: a.py", False),
    (".. code-block:: python3", True), (".. code-block:: pycon", True), (".. code:: python", True),
    ("   .. sourcecode:: py", True), (".. doctest::", True), (".. plot::", True),
])
def test_hidden_python_is_detected(line, hidden):
    assert bool(_OTHER_PYTHON.search(line)) is hidden
