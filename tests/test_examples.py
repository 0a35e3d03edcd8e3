"""The README's demo runs and says what it should."""

import importlib.util
import io
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_compares_with_scipy():
    out = io.StringIO()
    with redirect_stdout(out):
        rows = load("quickstart").main(n=10)
    text = out.getvalue()
    for label, res in rows.items():
        assert label in text
    ours = rows["curvopt trust-ncg (gradient only)"]
    assert ours.success and np.allclose(ours.x, 1.0, atol=1e-5)  # the known minimizer
    assert rows["scipy L-BFGS-B (gradient only)"].success


def test_readme_snippets_run():
    readme = (EXAMPLES.parent / "README.md").read_text()
    blocks = [block.split("```", 1)[0] for block in readme.split("```python")[1:]]
    assert blocks, "the README has a Python example"
    for block in blocks:
        out = io.StringIO()
        with redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {})
        assert out.getvalue().startswith("True")  # the example prints res.success first
