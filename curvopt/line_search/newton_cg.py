"""Line-search Newton-CG (truncated Newton).

The direction is truncated CG on the Newton system (no trust region; the
steepest-descent direction when the first CG direction has non-positive
curvature), the step length a backtracking Armijo search on `f` alone, so a
step costs one gradient call at the accepted point and none for trial points.

scipy's Newton-CG stops when ``sum |step| <= xtol n`` and reports success
whatever the gradient: on the chained Rosenbrock with n = 10^4 it claims
success at ||g|| = 1.26 (and at n = 1000 a step that short comes long before
the solution).  Here the run stops on the gradient test ``||g|| <= gtol``, the
only test that says a point is stationary; `xtol` is accepted for
compatibility and ignored.

References
----------
J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., 2006,
Algorithm 7.1 (line-search Newton-CG) and Algorithm 3.1 (backtracking).
"""

from __future__ import annotations

import math

import numpy as np

from .._oracle import OracleError
from .._result import Status
from .._verify import Verifier
from .._validation import norm as _norm
from ..trust_region._loop import forcing_tolerance
from ..trust_region.steihaug import solve as truncated_cg

__all__ = ["newton_cg_body", "NEWTON_CG_COLUMNS"]

NEWTON_CG_COLUMNS = (
    ("f", 14, ".7e"),
    ("gnorm", 10, ".3e"),
    ("step", 10, ".3e"),
    ("cg_iterations", 13, "d"),
    ("alpha", 10, ".3e"),
    ("njev", 7, "d"),
)

_ARMIJO_C1 = 1e-4  # sufficient-decrease constant (Nocedal & Wright, Sec. 3.1)
_MAX_BACKTRACKS = 40
_EPS = np.finfo(float).eps
_F_RESOLUTION = 100 * _EPS  # as in the trust-region loop


def newton_cg_body(*, gtol, maxiter, cg_maxiter, c1=_ARMIJO_C1, verifier=None):
    """A solver body (see `curvopt._run`) for line-search Newton-CG."""
    verifier = Verifier(False, 1) if verifier is None else verifier

    def body(run):
        oracle, backend = run.oracle, run.backend
        while True:
            gnorm = run.gnorm
            if gnorm <= gtol:
                outcome = verifier.at_stationary_point(run)
                if isinstance(outcome, Status):
                    return outcome
                if not _leave_saddle(run, oracle, *outcome):
                    return Status.SADDLE_POINT
                run.nit += 1
                if run.end_of_iteration(f=run.f, gnorm=run.gnorm, njev=oracle.njev):
                    return Status.CALLBACK
                continue
            if run.nit >= maxiter:
                return Status.MAXITER
            backend.linearize(run.x, run.g)
            sub = truncated_cg(run.g, backend, math.inf, forcing_tolerance(gnorm), cg_maxiter)
            run.nit += 1
            run.cg_iterations += sub.n_products
            direction = sub.step
            slope = float(np.dot(run.g, direction))
            if not slope < 0.0:  # CG failed to give descent (non-finite products): fall back to -g
                run.n_nonfinite += sub.reason == sub.reason.NONFINITE
                direction, slope = -run.g, -gnorm * gnorm
            resolution = _F_RESOLUTION * abs(run.f)
            g_new = None
            if -slope > resolution:
                alpha, f_new = _backtrack(run, oracle, direction, slope, c1)
                if alpha is None:
                    return Status.LINE_SEARCH
            else:
                # The decrease the step promises is below the resolution of f (large
                # |f| near the solution): the Armijo test would compare round-off.
                # Take the full step if the gradient falls and f does not rise.
                alpha, x_new = 1.0, run.x + direction
                f_new, g_new = oracle.value(x_new), oracle.gradient(x_new)
                if not (f_new <= run.f + resolution and _norm(g_new) < gnorm):
                    return Status.PRECISION_LOSS
            x_new = run.x + alpha * direction
            if g_new is None:
                g_new = oracle.gradient(x_new)
            if not np.isfinite(g_new).all():
                return Status.NAN_RESULT
            step = alpha * direction
            run.move_to(x_new, f_new, g_new)
            if run.end_of_iteration(
                f=f_new, gnorm=run.gnorm, step=_norm(step),
                cg_iterations=sub.n_products, alpha=alpha, njev=oracle.njev,
            ):
                return Status.CALLBACK
            if run.gnorm > gtol and _norm(step) <= _EPS * max(1.0, _norm(x_new)):
                return Status.PRECISION_LOSS

    return body


def _leave_saddle(run, oracle, direction, curvature) -> bool:
    """Step along a unit direction of negative curvature until f falls by a quarter of
    what the quadratic model promises (f + t g'v + t^2 curvature / 2); False if it never does."""
    t = max(1.0, float(np.linalg.norm(run.x)))
    slope = float(np.dot(run.g, direction))
    for _ in range(_MAX_BACKTRACKS):
        x_new = run.x + t * direction
        try:
            f_new = oracle.value(x_new)
        except OracleError:
            f_new = math.nan
        promised = -(t * slope + 0.5 * curvature * t * t)
        if math.isfinite(f_new) and run.f - f_new >= 0.25 * promised:
            g_new = oracle.gradient(x_new)
            if np.isfinite(g_new).all():
                run.move_to(x_new, f_new, g_new)
                return True
        t *= 0.5
    return False


def _backtrack(run, oracle, direction, slope, c1):
    """Armijo backtracking from alpha = 1 with safeguarded quadratic interpolation."""
    alpha = 1.0
    f0 = run.f
    for _ in range(_MAX_BACKTRACKS):
        try:
            f_trial = oracle.value(run.x + alpha * direction)
        except OracleError:
            f_trial = math.nan
        if not math.isfinite(f_trial):
            run.n_nonfinite += 1
            alpha *= 0.1
            continue
        if f_trial <= f0 + c1 * alpha * slope:
            return alpha, f_trial
        # minimizer of the quadratic through f0, slope and f_trial, kept in [0.1, 0.5] alpha
        denom = 2.0 * (f_trial - f0 - slope * alpha)
        alpha_q = -slope * alpha * alpha / denom if denom > 0 else 0.5 * alpha
        alpha = min(max(alpha_q, 0.1 * alpha), 0.5 * alpha)
    return None, None
