"""Per-iteration progress table, printed as it goes when ``disp=True``."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """Prints one line per iteration, flushed, so a long run is seen to move.

    Parameters
    ----------
    enabled : bool
        Nothing is printed when false (the default of every solver).
    columns : sequence of (name, width, format)
        The table's columns after ``iter``; `line` takes them as keywords.
    stream : file-like, optional
        Where to print (default: ``sys.stdout`` at print time).
    """

    def __init__(self, enabled, columns, stream=None):
        self.enabled = bool(enabled)
        self.columns = tuple(columns)
        self.stream = stream
        self.start = time.perf_counter()
        if self.enabled:
            head = f"{'iter':>6}" + "".join(f" {name:>{width}}" for name, width, _ in self.columns)
            head += f" {'time [s]':>9}"
            self._print(head)

    def line(self, nit, **values):
        if not self.enabled:
            return
        text = f"{nit:>6d}"
        for name, width, fmt in self.columns:
            value = values.get(name)
            text += f" {'-':>{width}}" if value is None else f" {value:>{width}{fmt}}"
        text += f" {time.perf_counter() - self.start:>9.3f}"
        self._print(text)

    def summary(self, result):
        if not self.enabled:
            return
        lines = [
            ("" if result.success else "Warning: ") + result.message,
            f"         Current function value: {result.fun:.6g}",
            f"         Gradient norm: {_norm(result.jac):.3g}",
            f"         Iterations: {result.nit}",
            f"         Function evaluations: {result.nfev}",
            f"         Gradient evaluations: {result.njev}",
            f"         Hessian evaluations: {result.nhev}",
        ]
        self._print("\n".join(lines))

    def _print(self, text):
        stream = self.stream if self.stream is not None else sys.stdout
        print(text, file=stream, flush=True)


def _norm(g):
    import numpy as np

    return float(np.linalg.norm(g))
