"""The trust-region outer loop shared by every trust-region method.

Parameter defaults are scipy's (initial radius 1, largest radius 1000,
acceptance threshold eta = 0.15, gtol = 1e-4) so that switching the import
changes nothing a user relied on; the radius rules are scipy's and those of
Nocedal & Wright, Algorithm 4.1 (a quarter on rho < 1/4, doubled on rho > 3/4
at the boundary).

Near the solution the energy difference ``f(x) - f(x + p)`` drowns in
round-off (``|f|`` of a large molecule is ~1e3 eV, the decrease ~1e-9 eV), so
the ratio test is supplemented by a gradient test: a step whose predicted
decrease is below the resolution of `f` and that the ratio test rejects is
still accepted when the stationarity measure falls and `f` does not rise
beyond its resolution.

One loop, two feasible sets
---------------------------
What depends on where the iterates may go is a small strategy object, the
*feasible set*, and the loop itself is written once:

``start(run)``
    Adapt the run before the first iteration (the box makes finite-difference
    products bounded) and check it.
``record(run) -> float``
    The stationarity measure at the run's current point, which the stopping
    test compares with `gtol`; writes the result keys of the point.
``measure(x, g) -> float``
    The same measure at a trial point (the round-off test).
``step(run, radius, measure) -> TrialStep``
    The trial step of the trust-region subproblem at the current point.
``escape(run, direction, curvature, radius) -> TrialStep``
    A step along a direction of negative curvature (saddle escape).
``free(x)``
    The coordinates the curvature check covers (None: all of them).
``shrink(radius, step_norm) -> float``
    The radius after a rejected step.
``grow(radius, trial, max_trust_radius) -> float``
    The radius after a very successful step (``rho > 3/4``).
``learns``, ``observe(run, x_trial, g_trial)``
    A feasible set whose step uses a model that learns from gradients
    (``learns`` true) is also shown the gradients of rejected trial points
    where they come free with the value (``jac=True``).
``progress(run, measure) -> dict``
    The feasible set's own columns of the progress table (`columns`).

`Unconstrained` is all of R^n with a subproblem solver (Steihaug-Toint CG,
GLTR); `curvopt.trust_region.bounded.Box` is a box ``lower <= x <= upper``
with TRON's projected step.  The radius is doubled after a very successful
step that the trust region limited (``rho > 3/4``), in both; the shrinking
rule differs, see `Unconstrained.shrink` and `Box.shrink`.

The numba-compiled trust-ncg (`curvopt.trust_region._compiled`) mirrors this
loop with `Unconstrained` and Steihaug's solver, operation for operation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._oracle import OracleError
from .._result import Status
from .._run import DEFAULT_MAX_FAILURES
from .._validation import norm as _norm
from .._verify import Verifier
from .steihaug import StopReason

__all__ = ["trust_region_body", "Unconstrained", "TrialStep", "TRUST_REGION_COLUMNS", "forcing_tolerance"]

_EPS = np.finfo(float).eps
# Resolution of f, relative to |f|, below which differences are round-off.
_F_RESOLUTION = 100 * _EPS
# Consecutive failed trial points (NaN, inf or an exception) before the run is given up, by
# default (option `max_failures`, `Run.max_failures`); the compiled loop uses this value.
_MAX_CONSECUTIVE_FAILURES = DEFAULT_MAX_FAILURES
# Radius factor after a very successful step that the trust region limited (scipy's).
_EXPAND = 2.0

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


class TrialStep(NamedTuple):
    """A feasible set's trial step from the run's current point."""

    x_trial: np.ndarray  # the trial point (feasible)
    step_norm: float  # ||x_trial - x||_2
    predicted_reduction: float  # m(0) - m(step); the loop gives up unless it is > 0
    n_products: int  # Hessian-vector products spent on it
    tr_limited: bool  # the trust region limited the step (the radius may grow)
    nonfinite: bool  # a product was not finite (with step_norm 0: no step at all)


class Unconstrained:
    """The feasible set R^n: the trust-region subproblem solved by `subproblem`.

    Parameters
    ----------
    subproblem : callable
        ``subproblem(g, hvp, radius, tol, maxiter) -> SubproblemResult``
        (`curvopt.trust_region.steihaug.solve`, `curvopt.trust_region.lanczos.solve`).
    cg_maxiter : int
        Cap on the subproblem's iterations.
    forcing : callable
        ``forcing(||g||)``, the residual tolerance of the subproblem.
    """

    columns = TRUST_REGION_COLUMNS

    def __init__(self, subproblem, cg_maxiter, forcing=forcing_tolerance):
        self.subproblem = subproblem
        self.cg_maxiter = cg_maxiter
        self.forcing = forcing

    def start(self, run):
        pass

    def record(self, run) -> float:
        return run.gnorm

    def measure(self, x, g) -> float:
        return _norm(g)

    def step(self, run, radius, measure) -> TrialStep:
        run.backend.linearize(run.x, run.g)
        sub = self.subproblem(run.g, run.backend, radius, self.forcing(measure), self.cg_maxiter)
        return TrialStep(run.x + sub.step, _norm(sub.step), sub.predicted_reduction, sub.n_products,
                         sub.hits_boundary, sub.reason == StopReason.NONFINITE)

    def escape(self, run, direction, curvature, radius) -> TrialStep:
        """To the boundary along `direction` (unit length, downhill), curvature `curvature` along it."""
        step = radius * direction
        predicted = -(float(np.dot(run.g, step)) + 0.5 * curvature * radius * radius)
        return TrialStep(run.x + step, _norm(step), predicted, 0, True, False)

    learns = False

    def observe(self, run, x_trial, g_trial):
        pass

    def free(self, x):
        return None

    @staticmethod
    def grow(radius, trial, max_trust_radius) -> float:
        """Doubled when the trust region limited the step (scipy's rule)."""
        return min(_EXPAND * radius, max_trust_radius) if trial.tr_limited else radius

    @staticmethod
    def shrink(radius, step_norm) -> float:
        """scipy's rule: a quarter of the radius.  A step inside the region is the subproblem's
        own minimizer, which a smaller radius changes; keeping scipy's rule keeps the iterates
        scipy's (tests/test_collection.py) and those of the compiled loop."""
        return 0.25 * radius

    def progress(self, run, measure) -> dict:
        return {"gnorm": run.gnorm}


def trust_region_body(feasible, *, gtol, maxiter, initial_trust_radius, max_trust_radius, eta, verifier=None):
    """A solver body (see `curvopt._run`) for trust-region Newton over the feasible set `feasible`.

    The run stops when ``feasible.record(run) <= gtol``.  `initial_trust_radius` is a
    number or ``initial_trust_radius(run) -> float``.  `verifier` (a
    `curvopt._verify.Verifier`, or None) checks the curvature there, on the
    coordinates ``feasible.free(x)``, and at a saddle supplies the direction
    to leave it by.
    """
    verifier = Verifier(False, 1) if verifier is None else verifier

    def body(run):
        feasible.start(run)
        oracle = run.oracle
        # a callable chooses the first radius from the starting point
        radius = float(initial_trust_radius(run) if callable(initial_trust_radius) else initial_trust_radius)
        consecutive_failures = 0
        measure = feasible.record(run)
        while True:
            if measure <= gtol:
                outcome = verifier.at_stationary_point(run, feasible.free(run.x))
                if isinstance(outcome, Status):
                    return outcome
                trial = feasible.escape(run, *outcome, radius)
            elif run.nit >= maxiter:
                return Status.MAXITER
            else:
                trial = feasible.step(run, radius, measure)
            run.nit += 1
            run.cg_iterations += trial.n_products
            rho = -math.inf
            accepted = False
            nonfinite = False
            observed = None  # the gradient at a rejected trial point, for a model that learns
            if trial.nonfinite and trial.step_norm == 0.0:
                nonfinite = True  # the gradient is not finite right next to x
            elif not trial.predicted_reduction > 0.0:
                return Status.PRECISION_LOSS
            else:
                x_trial = trial.x_trial
                f_trial = _value_or_nan(run, x_trial)
                if not math.isfinite(f_trial):
                    nonfinite = True
                else:
                    rho = (run.f - f_trial) / trial.predicted_reduction
                    resolution = _F_RESOLUTION * abs(run.f)
                    if rho > eta or trial.predicted_reduction < resolution:
                        g_trial = _gradient_or_none(run, x_trial)
                        observed = g_trial
                        if g_trial is None:
                            nonfinite = True
                        elif rho > eta or (
                            f_trial <= run.f + resolution and feasible.measure(x_trial, g_trial) < measure
                        ):
                            accepted = True
                            run.move_to(x_trial, f_trial, g_trial)
                            measure = feasible.record(run)
                    elif feasible.learns and oracle.jac_mode == "combined":
                        observed = _gradient_or_none(run, x_trial)  # came with the value: free
                    if observed is not None and not accepted:
                        feasible.observe(run, x_trial, observed)
            if nonfinite:
                run.n_nonfinite += 1
                consecutive_failures += 1
                rho = -math.inf
                if consecutive_failures > run.max_failures:
                    return Status.ORACLE_ERROR if "exception" in run.extra else Status.NAN_RESULT
            else:
                consecutive_failures = 0
            if rho < 0.25:
                radius = feasible.shrink(radius, trial.step_norm)
            elif rho > 0.75:
                radius = feasible.grow(radius, trial, max_trust_radius)
            if radius < 1e-10 and radius < _EPS * max(1.0, _norm(run.x)):
                return Status.NAN_RESULT if nonfinite else Status.TRUST_RADIUS
            stop = run.end_of_iteration(
                f=run.f, **feasible.progress(run, measure), trust_radius=radius,
                cg_iterations=trial.n_products, rho=rho if math.isfinite(rho) else None, njev=oracle.njev,
                accepted=accepted,
            )
            if stop:
                return Status.CALLBACK

    return body


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
