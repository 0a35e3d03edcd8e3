"""Steihaug-Toint truncated conjugate gradients for the trust-region subproblem.

    minimize  m(p) = g'p + p'Hp / 2   subject to  ||p|| <= trust_radius

CG from p = 0 produces steps of increasing norm and decreasing model value, so
it can stop at the boundary, at the first direction of non-positive curvature
(followed to the boundary), or when the residual is small enough (inexact
Newton).  The model's curvature along the final step comes from the CG
recurrences (``H p = r - g``), so the predicted reduction costs no extra
product (scipy's implementation spends one on it per outer iteration).

References
----------
T. Steihaug, "The conjugate gradient method and trust regions in large scale
optimization", SIAM J. Numer. Anal. 20(3), 626-637, 1983.
Ph. L. Toint, "Towards an efficient sparsity exploiting Newton method for
minimization", in Sparse Matrices and Their Uses, Academic Press, 1981.
J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., 2006,
Algorithm 7.2.
"""

from __future__ import annotations

import enum
import math
from typing import NamedTuple

import numpy as np

__all__ = ["StopReason", "SubproblemResult", "solve", "boundary_root"]


class StopReason(enum.IntEnum):
    """Why the inner CG stopped."""

    CONVERGED = 0
    BOUNDARY = 1
    NEGATIVE_CURVATURE = 2
    MAXITER = 3
    NONFINITE = 4


class SubproblemResult(NamedTuple):
    step: np.ndarray
    predicted_reduction: float  # m(0) - m(step) >= 0
    reason: StopReason
    n_products: int
    hits_boundary: bool
    curvature: float  # d'Hd / d'd of the last direction: negative with NEGATIVE_CURVATURE


def boundary_root(z, d, radius) -> float:
    """The tau >= 0 with ||z + tau d|| = radius (z strictly inside)."""
    a = float(np.dot(d, d))
    b = float(np.dot(z, d))
    c = float(np.dot(z, z)) - radius * radius
    disc = math.sqrt(max(b * b - a * c, 0.0))
    # The larger root of a tau^2 + 2 b tau + c, written without cancellation.
    return -c / (b + disc) if b > 0.0 else (disc - b) / a


def solve(g, hvp, trust_radius, tol, maxiter) -> SubproblemResult:
    """Approximately minimize the quadratic model inside the trust region.

    Parameters
    ----------
    g : ndarray
        Gradient at the current point (nonzero).
    hvp : callable
        ``hvp(d) -> H d``.
    trust_radius : float
        Radius of the region; ``np.inf`` gives plain truncated CG (used by the
        line-search Newton-CG), which returns the steepest-descent direction
        ``-g`` if the very first direction has non-positive curvature.
    tol : float
        Stop when the residual norm ``||g + H p||`` falls below it.
    maxiter : int
        Cap on CG iterations (= products).
    """
    z = np.zeros_like(g)
    r = g.copy()
    d = -g
    rr = float(np.dot(r, r))
    bounded = math.isfinite(trust_radius)
    curvature = 0.0
    for j in range(maxiter):
        Hd = hvp(d)
        dHd = float(np.dot(d, Hd))
        if not math.isfinite(dHd):
            return _finish(z, r, g, StopReason.NONFINITE, j + 1, curvature)
        dd = float(np.dot(d, d))
        curvature = dHd / dd
        if dHd <= 0.0:
            if not bounded:
                if j == 0:
                    return _finish(d, None, g, StopReason.NEGATIVE_CURVATURE, 1, curvature)
                return _finish(z, r, g, StopReason.NEGATIVE_CURVATURE, j + 1, curvature)
            tau = boundary_root(z, d, trust_radius)
            return _to_boundary(z, r, g, d, Hd, tau, StopReason.NEGATIVE_CURVATURE, j + 1, curvature)
        alpha = rr / dHd
        z_next = z + alpha * d
        if bounded and float(np.dot(z_next, z_next)) >= trust_radius * trust_radius:
            tau = boundary_root(z, d, trust_radius)
            return _to_boundary(z, r, g, d, Hd, tau, StopReason.BOUNDARY, j + 1, curvature)
        r = r + alpha * Hd
        z = z_next
        rr_next = float(np.dot(r, r))
        if rr_next < tol * tol:
            return _finish(z, r, g, StopReason.CONVERGED, j + 1, curvature)
        d = (rr_next / rr) * d - r
        rr = rr_next
    return _finish(z, r, g, StopReason.MAXITER, maxiter, curvature)


def _to_boundary(z, r, g, d, Hd, tau, reason, n_products, curvature):
    p = z + tau * d
    Hp = (r - g) + tau * Hd
    pred = -(float(np.dot(g, p)) + 0.5 * float(np.dot(p, Hp)))
    return SubproblemResult(p, pred, reason, n_products, True, curvature)


def _finish(z, r, g, reason, n_products, curvature):
    if r is None:  # steepest descent fallback: the model is not convex along it
        pred = float(np.dot(g, g))  # first-order decrease per unit step, for line searches
        return SubproblemResult(z, pred, reason, n_products, False, curvature)
    # m(0) - m(z) = -(g'z + z'Hz/2) with Hz = r - g
    pred = -(float(np.dot(g, z)) + 0.5 * float(np.dot(z, r - g)))
    return SubproblemResult(z, pred, reason, n_products, False, curvature)
