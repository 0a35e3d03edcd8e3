"""A callable wrapper that counts its calls: the independent count that a
solver's reported evaluation counts are checked against in tests and
benchmarks."""

from __future__ import annotations

__all__ = ["Counted"]


class Counted:
    """Wraps `function`; ``calls`` is the number of times it was called.

    Examples
    --------
    >>> from scipy.optimize import rosen_der
    >>> jac = Counted(rosen_der)
    >>> _ = jac([1.0, 2.0]); _ = jac([0.0, 0.0])
    >>> jac.calls
    2
    """

    def __init__(self, function):
        self.function = function
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)
