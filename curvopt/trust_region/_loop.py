"""The trust-region outer loop shared by every subproblem solver.

Parameter defaults are scipy's (initial radius 1, largest radius 1000,
acceptance threshold eta = 0.15, gtol = 1e-4) so that switching the import
changes nothing a user relied on; the radius rules are scipy's and those of
Nocedal & Wright, Algorithm 4.1 (a quarter on rho < 1/4, doubled on rho > 3/4
at the boundary).

Near the solution the energy difference ``f(x) - f(x + p)`` drowns in
round-off (``|f|`` of a large molecule is ~1e3 eV, the decrease ~1e-9 eV), so
the ratio test is supplemented by a gradient test: a step whose predicted
decrease is below the resolution of `f` and that the ratio test rejects is
still accepted when the gradient norm falls and `f` does not rise beyond its
resolution.
"""

from __future__ import annotations

import math

import numpy as np

from .._oracle import OracleError
from .._result import Status
from .._validation import norm as _norm
from .steihaug import StopReason, SubproblemResult

__all__ = ["trust_region_body", "TRUST_REGION_COLUMNS"]

_EPS = np.finfo(float).eps
# Resolution of f, relative to |f|, below which differences are round-off.
_F_RESOLUTION = 100 * _EPS
# Consecutive failed trial points (NaN, inf or an exception) before the run is given up:
# each quarters the radius, so ten span six orders of magnitude.
_MAX_CONSECUTIVE_FAILURES = 10

TRUST_REGION_COLUMNS = (
    ("f", 14, ".7e"),
    ("gnorm", 10, ".3e"),
    ("trust_radius", 12, ".3e"),
    ("cg_iterations", 13, "d"),
    ("rho", 10, ".3f"),
    ("njev", 7, "d"),
)


def forcing_tolerance(gnorm: float) -> float:
    """Inexact-Newton residual target, superlinear near the solution
    (Nocedal & Wright, eq. 7.3 with eta_k = min(0.5, sqrt(||g||)))."""
    return min(0.5, math.sqrt(gnorm)) * gnorm


def trust_region_body(
    subproblem,
    *,
    gtol,
    maxiter,
    initial_trust_radius,
    max_trust_radius,
    eta,
    cg_maxiter,
    forcing=forcing_tolerance,
    verifier=None,
):
    """A solver body (see `curvopt._run`) for trust-region Newton with `subproblem`.

    `forcing(gnorm)` is the residual tolerance handed to the subproblem solver;
    `verifier` (a `curvopt._verify.Verifier`) checks the curvature where the
    gradient test holds and, at a saddle, supplies the direction to leave it by.
    """

    def body(run):
        oracle, backend = run.oracle, run.backend
        radius = float(initial_trust_radius)
        consecutive_failures = 0
        while True:
            gnorm = run.gnorm
            if gnorm <= gtol:
                check = None if verifier is None else verifier.check(run)
                direction = None if check is None else verifier.escape_direction(run, check)
                if direction is None:
                    return Status.SADDLE_POINT if check is not None and check.is_local_minimum is False \
                        else Status.SUCCESS
                sub = _escape_step(run.g, direction, check.min_curvature, radius)
            elif run.nit >= maxiter:
                return Status.MAXITER
            else:
                backend.linearize(run.x, run.g)
                sub = subproblem(run.g, backend, radius, forcing(gnorm), cg_maxiter)
            run.nit += 1
            run.cg_iterations += sub.n_products
            step_norm = _norm(sub.step)
            rho = -math.inf
            accepted = False
            nonfinite = False
            if sub.reason == StopReason.NONFINITE and step_norm == 0.0:
                nonfinite = True  # the gradient is not finite right next to x
            elif not sub.predicted_reduction > 0.0:
                return Status.PRECISION_LOSS
            else:
                x_trial = run.x + sub.step
                f_trial = _value_or_nan(run, x_trial)
                if not math.isfinite(f_trial):
                    nonfinite = True
                else:
                    rho = (run.f - f_trial) / sub.predicted_reduction
                    resolution = _F_RESOLUTION * abs(run.f)
                    if rho > eta or sub.predicted_reduction < resolution:
                        g_trial = _gradient_or_none(run, x_trial)
                        if g_trial is None:
                            nonfinite = True
                        elif rho > eta or (
                            f_trial <= run.f + resolution and _norm(g_trial) < gnorm
                        ):
                            accepted = True
                            run.move_to(x_trial, f_trial, g_trial)
            if nonfinite:
                run.n_nonfinite += 1
                consecutive_failures += 1
                rho = -math.inf
                if consecutive_failures > _MAX_CONSECUTIVE_FAILURES:
                    return Status.ORACLE_ERROR if "exception" in run.extra else Status.NAN_RESULT
            else:
                consecutive_failures = 0
            if rho < 0.25:
                radius = 0.25 * radius
            elif rho > 0.75 and sub.hits_boundary:
                radius = min(2.0 * radius, max_trust_radius)
            if radius < 1e-10 and radius < _EPS * max(1.0, _norm(run.x)):
                return Status.NAN_RESULT if nonfinite else Status.TRUST_RADIUS
            stop = run.end_of_iteration(
                f=run.f, gnorm=run.gnorm, trust_radius=radius, cg_iterations=sub.n_products,
                rho=rho if math.isfinite(rho) else None, njev=oracle.njev, accepted=accepted,
            )
            if stop:
                return Status.CALLBACK

    return body


def _escape_step(g, direction, curvature, radius) -> SubproblemResult:
    """A step to the boundary along a direction of negative curvature, as a subproblem result."""
    step = radius * direction
    predicted = -(float(np.dot(g, step)) + 0.5 * curvature * radius * radius)
    return SubproblemResult(step, predicted, StopReason.NEGATIVE_CURVATURE, 0, True, curvature)


def _value_or_nan(run, x) -> float:
    """The value at a trial point; NaN if the oracle raised (the exception is kept)."""
    try:
        value = run.oracle.value(x)
    except OracleError as err:
        run.extra["exception"] = err.__cause__
        return math.nan
    run.extra.pop("exception", None)
    return value


def _gradient_or_none(run, x):
    """The gradient at a trial point; None if the oracle raised or it is not finite."""
    try:
        g = run.oracle.gradient(x)
    except OracleError as err:
        run.extra["exception"] = err.__cause__
        return None
    run.extra.pop("exception", None)
    return g if np.isfinite(g).all() else None
