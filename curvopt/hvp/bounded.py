"""Finite-difference Hessian-vector products that never leave a box.

A model defined only inside its bounds (a log of a variance, a discount
factor in (0, 1), a probability) must never see a point outside them, and the
displaced points of a finite-difference product are points like any other.
`BoundedFiniteDifferenceHVP` chooses the displacement of every product inside
the box ``lower <= x <= upper``.

The rule, for a product along ``p`` at ``x`` (``x`` in the box), with ``h``
the unconstrained step of `curvopt.hvp._kernels.fd_step` (``h ||p|| =
rel (1 + ||x||)``):

1. ``'3-point'``: the central difference when both ``x + h p`` and
   ``x - h p`` are in the box; otherwise the one-sided rule below with the
   one-sided step ``h * sqrt(eps) / eps^(1/3)`` (the step that balances a
   one-sided difference).
2. One-sided: the forward difference ``(g(x + h p) - g(x)) / h`` when
   ``x + h p`` is in the box; otherwise the backward difference
   ``(g(x) - g(x - h p)) / h`` when ``x - h p`` is.
3. If neither fits, the longer of the two feasible one-sided steps, if it is
   at least ``h / 16`` (a *useful* step: its round-off error is at most 16
   times that of the balanced step, about ``16 sqrt(eps)`` relative).
4. Otherwise (``x`` sits at bounds on both sides of ``p``, e.g. at a lower
   bound in one coordinate where ``p`` points down and at a lower bound in
   another where ``p`` points up) ``p`` is split by coordinates into the part
   with more room forward and the part with more room backward, and
   ``H p = H p_forward + H p_backward`` costs two gradient calls.  Both parts
   use the same step ``h`` (in units of ``p``), shortened to fit where
   needed, so their absolute error is that of a single product.

Coordinates with ``lower == upper`` (fixed variables) have no room at all:
their components of ``p`` are dropped (the product treats them as zero).
Every displaced point is clipped into the box after it is formed, so that
round-off in ``x + h p`` cannot put it a unit in the last place outside.

The step rule is the standard remedy of finite differences at active bounds
(one-sided differences, as in Nocedal & Wright, Sec. 8.1, and scipy's
``approx_derivative`` with bounds); the splitting of ``p`` is curvopt's.

References
----------
J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer,
2006, Sec. 8.1.
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from .backends import FiniteDifferenceHVP, HVPBackend

__all__ = ["BoundedFiniteDifferenceHVP", "bounded_backend", "feasible_step", "USEFUL_FRACTION"]

#: A shortened one-sided step is used when it is at least this fraction of the balanced step.
USEFUL_FRACTION = 1.0 / 16.0


def feasible_step(x, p, lower, upper) -> float:
    """The largest ``t >= 0`` with ``lower <= x + t p <= upper`` (inf if unbounded).

    Parameters
    ----------
    x : ndarray
        A point of the box.
    p : ndarray
        A direction.
    lower, upper : ndarray
        The box (entries may be infinite).
    """
    room = _room(x, p, lower, upper)
    return float(room.min()) if room.size else np.inf


def _room(x, p, lower, upper):
    """Per coordinate, the largest t >= 0 that keeps x_i + t p_i in [lower_i, upper_i]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(p > 0, (upper - x) / p, np.where(p < 0, (lower - x) / p, np.inf))
    return np.maximum(room, 0.0)  # x is in the box; guard against -0.0 and round-off


class BoundedFiniteDifferenceHVP(FiniteDifferenceHVP):
    """Finite-difference products whose displaced points stay in a box.

    Parameters
    ----------
    gradient : callable
        ``gradient(x) -> g``, a counted gradient (an `Oracle`'s `gradient`).
    lower, upper : array_like
        The box; infinite entries for unbounded coordinates.
    scheme : {'2-point', '3-point'}
        Forward (one gradient call per product, g(x) reused) or central (two
        calls) differences where the box allows; see the module docstring for
        the rule at bounds.
    rel_step : float, optional
        Relative factor of the step (as `FiniteDifferenceHVP`).

    Attributes
    ----------
    n_backward, n_shortened, n_split, n_one_sided : int
        Products that took a backward step, a shortened step, were split in
        two, or (``'3-point'``) fell back to a one-sided difference: a
        record of how often the bounds were in the way.

    Notes
    -----
    The linearization point itself must be in the box (the solver keeps its
    iterates there); it is not checked on every product.
    """

    def __init__(self, gradient, lower, upper, scheme="2-point", rel_step=None):
        super().__init__(gradient, scheme, rel_step)
        self.lower = np.asarray(lower, dtype=float)
        self.upper = np.asarray(upper, dtype=float)
        if self.lower.shape != self.upper.shape or self.lower.ndim != 1:
            raise ValueError("`lower` and `upper` must be 1-D arrays of the same length")
        self._fixed = self.lower == self.upper
        self._any_fixed = bool(self._fixed.any())
        self.n_backward = 0
        self.n_shortened = 0
        self.n_split = 0
        self.n_one_sided = 0

    @classmethod
    def from_backend(cls, backend, lower, upper):
        """The bounded version of a `FiniteDifferenceHVP` (same gradient, scheme and step)."""
        out = cls(backend._gradient, lower, upper, backend.name, backend.rel_step)
        return out

    def _product(self, p):
        x = self.x
        if self._any_fixed and np.any(p[self._fixed] != 0.0):
            p = np.where(self._fixed, 0.0, p)
        h = _kernels.fd_step(x, p, self.rel_step)
        if h == 0.0:
            return np.zeros_like(x)
        room_f = _room(x, p, self.lower, self.upper)
        room_b = _room(x, -p, self.lower, self.upper)
        t_f = float(room_f.min())
        t_b = float(room_b.min())
        if self.central:
            if t_f >= h and t_b >= h:
                g_plus = self._gradient(self._point(x, p, h))
                g_minus = self._gradient(self._point(x, p, -h))
                return _kernels.central_difference(g_plus, g_minus, h, np.empty_like(x))
            self.n_one_sided += 1
            h *= _kernels.SQRT_EPS / _kernels.CBRT_EPS
        if t_f >= h:
            return self._one_sided(x, p, h)
        if t_b >= h:
            self.n_backward += 1
            return self._one_sided(x, p, -h)
        if max(t_f, t_b) >= USEFUL_FRACTION * h:
            self.n_shortened += 1
            if t_f >= t_b:
                return self._one_sided(x, p, t_f)
            self.n_backward += 1
            return self._one_sided(x, p, -t_b)
        # Split p by coordinates: each goes to the side with more room.
        self.n_split += 1
        forward = room_f >= room_b
        out = np.zeros_like(x)
        for mask, room, sign in ((forward, room_f, 1.0), (~forward, room_b, -1.0)):
            part = np.where(mask, p, 0.0)
            if not np.any(part != 0.0):
                continue
            t = min(h, float(room[mask & (p != 0.0)].min()))
            if t <= 0.0:  # only a fixed coordinate has no room either way, and those were dropped
                continue
            out += self._one_sided(x, part, sign * t)
        return out

    def _point(self, x, p, t):
        """x + t p, clipped into the box (a fresh array: a user's gradient may keep a view)."""
        y = _kernels.displaced(x, p, t, np.empty_like(x))
        return np.clip(y, self.lower, self.upper, out=y)

    def _one_sided(self, x, p, t):
        """(g(x + t p) - g(x)) / t, for t of either sign."""
        g_t = self._gradient(self._point(x, p, t))
        if self._g0 is None:
            self._g0 = self._gradient(x)
        return _kernels.forward_difference(g_t, self._g0, t, np.empty_like(x))


def bounded_backend(backend: HVPBackend, lower, upper) -> HVPBackend:
    """`backend` made safe for a box: finite differences are replaced by the
    bounded version; exact backends (autograd, the user's `hessp` or `hess`)
    evaluate nothing away from the point and are returned unchanged."""
    if isinstance(backend, BoundedFiniteDifferenceHVP):
        return backend
    if isinstance(backend, FiniteDifferenceHVP):
        return BoundedFiniteDifferenceHVP.from_backend(backend, lower, upper)
    return backend
