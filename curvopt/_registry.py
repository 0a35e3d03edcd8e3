"""Method name -> what the method is and what it accepts.

One table: `minimize` looks a method up here, validates the options against
its entry, and calls it; the list of method names in every error message and
the test that loops over all methods come from the same table.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from ._verify import Verifier
from .line_search.newton_cg import NEWTON_CG_COLUMNS, newton_cg_body
from .trust_region import lanczos as gltr
from .trust_region import steihaug
from .trust_region.quasi_newton import TRUST_LBFGS_COLUMNS, QuasiNewtonBody
from .trust_region._loop import TRUST_REGION_COLUMNS, Unconstrained, forcing_tolerance, trust_region_body
from .trust_region.bounded import BOUNDED_COLUMNS, BoundedBody

__all__ = ["MethodSpec", "METHODS", "SCIPY_METHODS", "COMMON_OPTIONS", "lookup"]

# Options every curvopt method takes; `minimize` consumes them itself.
COMMON_OPTIONS = {
    "disp": False,  # print a per-iteration table and a summary
    "return_all": False,  # keep every iterate in result.allvecs
    "max_grad_calls": None,  # budget on gradient calls (every finite-difference product included)
    "hvp_eps": None,  # relative finite-difference factor of Hessian-vector products
    "workers": None,  # where independent evaluations run (curvopt._workers): None, an int, or a map
    "log": None,  # SQLite file of every evaluation and iteration; a rerun resumes from it (curvopt._log)
    "max_failures": None,  # consecutive failed trial points before giving up (default 10, curvopt._run)
}


def _nonnegative(name, value):
    if not value >= 0:
        raise ValueError(f"option `{name}` must be a number >= 0; got {value!r}")


def _count(name, value, default):
    if value is None:
        return default
    if int(value) != value or value < 1:
        raise ValueError(f"option `{name}` must be a positive integer; got {value!r}")
    return int(value)


def _check_trust_region_values(gtol, eta, initial_trust_radius, max_trust_radius):
    _nonnegative("gtol", gtol)
    if not 0 <= eta < 0.25:
        raise ValueError(f"option `eta` must be in [0, 0.25); got {eta!r}")
    if not 0 < initial_trust_radius <= max_trust_radius:
        raise ValueError("options must satisfy 0 < initial_trust_radius <= max_trust_radius; "
                         f"got {initial_trust_radius!r} and {max_trust_radius!r}")


def _trust_region_options(n, gtol, maxiter, initial_trust_radius, max_trust_radius, eta, cg_maxiter):
    """The options every trust-region method takes, checked: the loop's keywords, and `cg_maxiter`."""
    _check_trust_region_values(gtol, eta, initial_trust_radius, max_trust_radius)
    loop = dict(gtol=gtol, maxiter=_count("maxiter", maxiter, 200 * n),
                initial_trust_radius=float(initial_trust_radius), max_trust_radius=float(max_trust_radius), eta=eta)
    return loop, _count("cg_maxiter", cg_maxiter, max(20, 2 * n))


def _trust_region(n, subproblem, gtol, maxiter, initial_trust_radius, max_trust_radius, eta, cg_maxiter,
                  verify, forcing=forcing_tolerance, deflate=None):
    loop, cg_maxiter = _trust_region_options(n, gtol, maxiter, initial_trust_radius, max_trust_radius, eta,
                                             cg_maxiter)
    return trust_region_body(Unconstrained(subproblem, cg_maxiter, forcing),
                             verifier=Verifier(verify, n, deflate=deflate), **loop)


def trust_ncg(n, *, gtol=1e-4, maxiter=None, initial_trust_radius=1.0, max_trust_radius=1000.0, eta=0.15,
              cg_maxiter=None, verify="auto", deflate=None, compiled="auto"):
    """Options of ``method='trust-ncg'`` (scipy's names and defaults, plus curvopt's).

    gtol : float
        Stop when ``||g||_2 <= gtol`` (scipy's default 1e-4).
    maxiter : int
        Iterations (trust-region subproblems), default ``200 n`` as scipy.
    initial_trust_radius, max_trust_radius, eta : float
        scipy's trust-region parameters (1, 1000, 0.15).
    cg_maxiter : int
        Cap on CG iterations per subproblem, default ``max(20, 2 n)``.
    verify : {'auto', True, False}
        Where the gradient test holds, estimate the least Hessian eigenvalue
        by Lanczos (at most ``min(n, 40)`` products) and, at a saddle, step
        along the negative-curvature direction instead of stopping; adds the
        result keys ``min_curvature`` and ``is_local_minimum``.  'auto' checks
        where it is cheap or needed: products that cost no gradient call
        (autograd, `hessp`, `hess`), a check budget at most a tenth of the
        gradient calls already spent, or a stationary starting point.  The
        compiled path does not verify.
    deflate : callable or array_like, optional
        Directions the curvature check leaves out: an (n, m) array or
        ``deflate(x) -> (n, m)``, e.g. the rigid-body translations and
        rotations of a molecule (`curvopt.chem.rigid_body_modes`), exact zero
        modes that would otherwise keep the check from a verdict.
    compiled : {'auto', True, False}
        Run the whole loop in numba nopython mode when `fun` and `jac` are
        numba-jitted functions ('auto': whenever possible and `verify` is not True).
    """
    return _trust_region(n, steihaug.solve, gtol, maxiter, initial_trust_radius, max_trust_radius, eta, cg_maxiter,
                         verify, deflate=deflate)


def trust_krylov(n, *, gtol=1e-4, maxiter=None, initial_trust_radius=1.0, max_trust_radius=1000.0, eta=0.15,
                 cg_maxiter=None, inexact=True, verify="auto", deflate=None):
    """Options of ``method='trust-krylov'`` (GLTR subproblems; scipy's names and defaults).

    inexact : bool
        As scipy: True solves each subproblem to the inexact-Newton tolerance
        ``min(0.5, sqrt(||g||)) ||g||``, False to ``1e-10 ||g||`` (fewer
        iterations, more products).

    The other options are those of trust-ncg.
    """
    forcing = forcing_tolerance if inexact else (lambda gnorm: 1e-10 * gnorm)
    return _trust_region(n, gltr.solve, gtol, maxiter, initial_trust_radius, max_trust_radius, eta, cg_maxiter,
                         verify, forcing, deflate)


def trust_bounds(n, *, gtol=1e-5, maxiter=None, initial_trust_radius=1.0, max_trust_radius=1000.0, eta=0.15,
                 cg_maxiter=None, verify="auto"):
    """Options of ``method='trust-bounds'``: projected trust-region Newton for bound constraints
    (TRON-style, `curvopt.trust_region.bounded`); the method `minimize` takes when given `bounds`.

    gtol : float
        Stop when ``||P[x - g] - x||_inf <= gtol`` (``P`` the projection on
        the box): scipy L-BFGS-B's ``pgtol`` test and default (1e-5), so that
        results compare with L-BFGS-B's.  `tol` sets it.
    maxiter : int
        Iterations (trust-region subproblems), default ``200 n``.
    initial_trust_radius, max_trust_radius, eta : float
        scipy's trust-region parameters (1, 1000, 0.15); see
        `curvopt.trust_region.bounded` for the radius rules.
    cg_maxiter : int
        Cap on CG products per subproblem over all its faces, default
        ``max(20, 2 n)`` (the Cauchy-point and projected-search products
        come on top).
    verify : {'auto', True, False}
        As for trust-ncg, on the free variables (those strictly between their
        bounds); 'auto' checks only where it costs no gradient call (exact
        products), at a stationary start or after an escape.

    Returns
    -------
    BoundedBody
        A solver body; ``body.with_bounds(lower, upper)`` gives the bounded one.
    """
    loop, cg_maxiter = _trust_region_options(n, gtol, maxiter, initial_trust_radius, max_trust_radius, eta,
                                             cg_maxiter)
    return BoundedBody(cg_maxiter=cg_maxiter, verify=verify, **loop)


def newton_cg(n, *, xtol=1e-5, gtol=1e-5, maxiter=None, cg_maxiter=None, c1=1e-4, verify="auto"):
    """Options of ``method='newton-cg'``.

    gtol : float
        Stop when ``||g||_2 <= gtol`` (curvopt's addition; `tol` sets it).
    xtol : float
        Accepted for compatibility and ignored: scipy's step test
        ``sum |step| <= xtol n`` reports false successes (see
        `curvopt.line_search.newton_cg`).
    maxiter : int
        Iterations, default ``200 n`` as scipy.
    cg_maxiter : int
        Cap on CG iterations per Newton step, default ``max(20, 2 n)``.
    c1 : float
        Armijo sufficient-decrease constant.
    verify : {'auto', True, False}
        As for trust-ncg; at a saddle the run continues with a line search
        along the negative-curvature direction.
    """
    _nonnegative("gtol", gtol)
    if not 0 < c1 < 1:
        raise ValueError(f"option `c1` must be in (0, 1); got {c1!r}")
    return newton_cg_body(
        gtol=gtol,
        maxiter=_count("maxiter", maxiter, 200 * n),
        cg_maxiter=_count("cg_maxiter", cg_maxiter, max(20, 2 * n)),
        c1=c1,
        verifier=Verifier(verify, n),
    )


def trust_lbfgs(n, *, gtol=1e-5, maxiter=None, memory=10, model="bfgs", initial_trust_radius=None,
                max_trust_radius=1000.0, eta=1e-4, measure=None, verify="auto", deflate=None):
    """Options of ``method='trust-lbfgs'``: a trust region on a limited-memory quasi-Newton model
    (`curvopt.trust_region.quasi_newton`); no Hessian-vector product except in the final
    curvature check, so the fewest gradient calls where products are finite differences.

    gtol : float
        Stop when ``measure(g) <= gtol`` (default ``||g||_2``; scipy L-BFGS-B's default 1e-5);
        with `bounds`, when ``||P[x - g] - x||_inf <= gtol`` (L-BFGS-B's ``pgtol`` test).
    maxiter : int
        Iterations (trial steps), default ``200 n``.
    memory : int
        Pairs (step, gradient change) the model keeps (L-BFGS-B's ``maxcor``, 10).
    model : {'bfgs', 'sr1'}
        Compact L-BFGS (positive definite) or L-SR1 (may be indefinite).
    initial_trust_radius, max_trust_radius : float
        The first step is the steepest-descent step of length `initial_trust_radius`
        (scipy's 1 and 1000; np.inf lifts the cap, for minimizers far away such as Brown's
        badly scaled function's at 1e6).  Default None: 1, and with `bounds` the length of
        the projected steepest-descent step ``||P[x0 - g0] - x0||_2`` (L-BFGS-B's first step).
    eta : float
        A step is accepted when the actual reduction exceeds `eta` times the
        predicted one (default 1e-4: any clear decrease, which the gradient
        call that follows turns into a model update).
    measure : callable, optional
        ``measure(g) -> float``, the stationarity measure `gtol` bounds, e.g.
        ``lambda g: np.linalg.norm(g.reshape(-1, 3), axis=1).max()`` (ASE's fmax);
        unconstrained runs only.

    verify : {'auto', True, False}
        The curvature check where the gradient test holds (see `trust_ncg`);
        it uses the run's Hessian-vector products (finite differences by default).
    deflate : callable or array_like, optional
        Directions the curvature check leaves out (see `trust_ncg`); unconstrained runs only.

    With `bounds` (`curvopt.trust_region.quasi_newton.QuasiNewtonBody`), the step is
    trust-bounds' projected step on the model (L-BFGS-B's generalized Cauchy point, CG on
    the free variables, projected search) in the shared trust-region loop; every evaluation
    stays in the box, and the result has ``pgnorm`` and ``active_mask``.  The default of
    `minimize` given `bounds` and a gradient whose products would be finite differences.
    """
    _check_trust_region_values(gtol, eta, 1.0 if initial_trust_radius is None else initial_trust_radius,
                               max_trust_radius)
    if model not in ("bfgs", "sr1"):
        raise ValueError(f"option `model` must be 'bfgs' or 'sr1'; got {model!r}")
    if measure is not None and not callable(measure):
        raise TypeError(f"option `measure` must be callable or None; got {type(measure).__name__}")
    return QuasiNewtonBody(n, gtol=gtol, maxiter=_count("maxiter", maxiter, 200 * n),
                           memory=_count("memory", memory, 10), kind=model,
                           initial_trust_radius=None if initial_trust_radius is None else float(initial_trust_radius),
                           max_trust_radius=float(max_trust_radius), eta=eta, measure=measure,
                           verify=verify, deflate=deflate)


@dataclass(frozen=True)
class MethodSpec:
    """A curvopt method: how to build its solver body and what it accepts."""

    name: str
    make_body: Callable  # make_body(n, **options) -> body(run) -> Status; with bounds: .with_bounds(lower, upper)
    columns: tuple  # progress-table columns
    tol_option: str  # the option that `tol` sets, as in scipy
    supports_bounds: bool = False
    supports_constraints: bool = False
    compiled: bool = False  # has a numba nopython path for jitted oracles
    options: frozenset = field(init=False)

    def __post_init__(self):
        params = inspect.signature(self.make_body).parameters
        names = {p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY}
        object.__setattr__(self, "options", frozenset(names | set(COMMON_OPTIONS)))


METHODS = {
    spec.name: spec
    for spec in (
        MethodSpec("trust-ncg", trust_ncg, TRUST_REGION_COLUMNS, "gtol", compiled=True),
        MethodSpec("trust-krylov", trust_krylov, TRUST_REGION_COLUMNS, "gtol"),
        MethodSpec("trust-bounds", trust_bounds, BOUNDED_COLUMNS, "gtol", supports_bounds=True),
        MethodSpec("newton-cg", newton_cg, NEWTON_CG_COLUMNS, "gtol"),
        MethodSpec("trust-lbfgs", trust_lbfgs, TRUST_LBFGS_COLUMNS, "gtol", supports_bounds=True),
    )
}

# scipy's own methods, passed through unchanged when curvopt has no method of that name.
SCIPY_METHODS = (
    "nelder-mead", "powell", "cg", "bfgs", "l-bfgs-b", "tnc", "cobyla", "cobyqa", "slsqp",
    "trust-constr", "dogleg", "trust-exact", "trust-krylov",
)


def lookup(method):
    """The `MethodSpec` for `method`, None for a scipy pass-through, or ValueError."""
    if not isinstance(method, str):
        raise TypeError(f"`method` must be a string (or None); got {type(method).__name__}")
    name = method.lower()
    if name in METHODS:
        return METHODS[name]
    if name in SCIPY_METHODS:
        return None
    known = ", ".join(repr(m) for m in (*METHODS, *(m for m in SCIPY_METHODS if m not in METHODS)))
    raise ValueError(f"unknown method {method!r}; known methods (case-insensitive): {known}")
