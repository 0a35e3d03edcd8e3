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

from . import _cg_kernels as _k

__all__ = ["StopReason", "SubproblemResult", "solve"]


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
    z = np.zeros(g.size)
    r = g.copy()
    d = -g
    rr = float(np.dot(r, r))
    curvature = 0.0
    for j in range(maxiter):
        Hd = hvp(d)
        code, rr, curvature = _k.cg_iteration(z, r, d, Hd, rr, trust_radius, tol)
        if code == _k.CONTINUE:
            continue
        reason = StopReason(code)
        if reason == StopReason.NONFINITE:
            return SubproblemResult(z, _k.model_decrease(g, z, r), reason, j + 1, False, curvature)
        if reason == StopReason.NEGATIVE_CURVATURE and math.isinf(trust_radius):
            if j == 0:  # no curvature information: the steepest-descent direction
                return SubproblemResult(d, float(np.dot(g, g)), reason, 1, False, curvature)
            return SubproblemResult(z, _k.model_decrease(g, z, r), reason, j + 1, False, curvature)
        hits_boundary = reason != StopReason.CONVERGED
        return SubproblemResult(z, _k.model_decrease(g, z, r), reason, j + 1, hits_boundary, curvature)
    return SubproblemResult(z, _k.model_decrease(g, z, r), StopReason.MAXITER, maxiter, False, curvature)
