"""Bound constraints: the projected trust-region Newton method against L-BFGS-B, and the box kept.

References are scipy's L-BFGS-B run to a tight tolerance (same problem, same box), known minima,
and exact Hessians. Every oracle call is checked to lie in the box: a model undefined outside it
must never see such a point, finite-difference products and gradients included.

The solver is reached through `curvopt.minimize` ('trust-bounds', its default method when given
`bounds`), through `minimize_bounded` (the same path, the common options as keywords) and by hand
through `Run`/`execute`.
"""

import math
import warnings

import autograd.numpy as anp
import numpy as np
import pytest
import scipy.optimize
from scipy.optimize import Bounds, OptimizeWarning, rosen, rosen_der, rosen_hess, rosen_hess_prod

import curvopt
from curvopt._oracle import check_initial_point, make_oracle
from curvopt._registry import trust_bounds
from curvopt._run import Run, execute
from curvopt.hvp.backends import FiniteDifferenceHVP
from curvopt.hvp.bounded import BoundedFiniteDifferenceHVP, feasible_step
from curvopt.testing import get_problem
from curvopt.trust_region.bounded import (
    BOUNDED_COLUMNS,
    as_bounds,
    minimize_bounded,
    projected_gradient,
)


def lbfgsb(fun, jac, x0, lower, upper):
    """The reference: L-BFGS-B to a tight tolerance."""
    return scipy.optimize.minimize(fun, np.clip(x0, lower, upper), jac=jac, method="L-BFGS-B",
                                   bounds=Bounds(lower, upper),
                                   options={"gtol": 1e-11, "ftol": 1e-16, "maxiter": 20_000, "maxfun": 40_000})


def pg_inf(jac, x, lower, upper):
    return float(np.max(np.abs(projected_gradient(x, jac(x), lower, upper))))


def active(x, lower, upper):
    return np.where(x <= lower, -1, np.where(x >= upper, 1, 0))


# -- the same solutions as L-BFGS-B --------------------------------------------------------

# (problem, n, lower, upper): boxes that cut off the unconstrained minimizer, where the bounded
# minimum reached from the clipped standard start is the same for both methods.
CASES = [
    ("rosenbrock", None, [-2.0, -2.0], [0.5, 2.0]),
    ("rosenbrock", None, 1.2, 2.0),
    ("beale", None, [0.0, 0.0], [2.5, 1.0]),
    ("helical_valley", None, [-10.0, -1.0, -1.0], [0.8, 1.0, 1.0]),
    ("box_3d", None, [0.0, 5.0, 0.0], [2.0, 9.5, 20.0]),
    ("powell_singular", None, 0.1, 100.0),
    ("bard", None, [0.1, 0.0, 0.0], 10.0),
    ("penalty_1", 10, 0.2, 1.0),
    ("variably_dimensioned", 10, 0.0, 0.9),
    ("linear_full_rank", 10, -0.5, 0.5),
    ("discrete_boundary_value", 10, -0.1, 0.0),
    ("chained_rosenbrock", 10, 1.2, 2.0),
    ("ill_conditioned_quadratic", 100, 0.0, 0.5),
    ("broyden_tridiagonal", 100, -0.6, 0.0),
]
GTOL = 1e-8


def case_id(case):
    return f"{case[0]}{'' if case[1] is None else '_' + str(case[1])}"


def setup(case):
    name, n, low, high = case
    problem = get_problem(name, n)
    lower = np.broadcast_to(np.asarray(low, dtype=float), (problem.n,)).copy()
    upper = np.broadcast_to(np.asarray(high, dtype=float), (problem.n,)).copy()
    return problem, lower, upper


_REFERENCE = {}


def reference(case):
    key = case_id(case) + str(case[2])
    if key not in _REFERENCE:
        problem, lower, upper = setup(case)
        _REFERENCE[key] = lbfgsb(problem.fun, problem.jac, problem.x0, lower, upper)
    return _REFERENCE[key]


@pytest.mark.parametrize("products", ["forward differences", "exact hessp"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_same_solution_as_lbfgsb(case, products):
    problem, lower, upper = setup(case)
    ref = reference(case)
    assert pg_inf(problem.jac, ref.x, lower, upper) <= 1e-5  # a converged reference
    hessp = problem.hessp if products == "exact hessp" else None
    res = curvopt.minimize(problem.fun, np.clip(problem.x0, lower, upper), jac=problem.jac, hessp=hessp,
                           bounds=Bounds(lower, upper), options={"gtol": GTOL})
    assert res.success, res.message
    assert np.all(res.x >= lower) and np.all(res.x <= upper)
    # honest success: the stopping test, recomputed from the problem's own gradient
    assert pg_inf(problem.jac, res.x, lower, upper) <= GTOL
    assert res.pgnorm <= GTOL
    assert res.fun == problem.fun(res.x)
    assert res.fun == pytest.approx(ref.fun, rel=1e-8, abs=1e-12)
    scale = 1.0 + np.linalg.norm(ref.x)
    assert np.linalg.norm(res.x - ref.x) <= 1e-4 * scale
    np.testing.assert_array_equal(res.active_mask, active(ref.x, lower, upper))


def test_known_bounded_minimum_rosenbrock():
    # min of Rosenbrock with x1 <= 0.5: x = (0.5, 0.25), f = 0.25 (analytic: x2 = x1^2 on the bound)
    res = curvopt.minimize(rosen, [-1.2, 1.0], jac=rosen_der, bounds=[(None, 0.5), (None, None)],
                           options={"gtol": 1e-10})
    assert res.success
    np.testing.assert_allclose(res.x, [0.5, 0.25], atol=1e-10)
    assert res.fun == pytest.approx(0.25, abs=1e-15)
    assert res.active_mask.tolist() == [1, 0]


def test_unbounded_coordinates_and_no_bounds_reach_the_known_minimum():
    x0 = np.array([-1.2, 1.0, -1.2, 1.0])
    for bounds in (None, [(None, None)] * 4, Bounds(-np.inf, np.inf)):
        res = curvopt.minimize(rosen, x0, jac=rosen_der, method="trust-bounds", bounds=bounds, options={"gtol": 1e-9})
        assert res.success
        np.testing.assert_allclose(res.x, 1.0, atol=1e-8)
        assert not res.active_mask.any()


def test_unbounded_steps_are_steihaug_trust_region_steps():
    # Without bounds, the Cauchy point is CG's first iterate and CG continues from it: the
    # iterates are those of scipy's trust-ncg while no rejected step makes the radius rules differ.
    x0 = np.array([-1.2, 1.0])
    ours = minimize_bounded(rosen, x0, jac=rosen_der, hessp=rosen_hess_prod, return_all=True,
                            options={"gtol": 1e-8, "maxiter": 2})
    theirs = []
    scipy.optimize.minimize(rosen, x0, jac=rosen_der, hessp=rosen_hess_prod, method="trust-ncg",
                            callback=lambda xk: theirs.append(np.copy(xk)), options={"maxiter": 2})
    assert len(ours.allvecs) == 3  # both steps accepted
    np.testing.assert_allclose(ours.allvecs[1:], theirs, rtol=1e-12)


def test_run_and_execute_by_hand():
    # The body of a solver, wired by hand as `minimize` does: oracle, bounded backend, Run, execute.
    lower, upper = np.full(6, -1.5), np.full(6, 0.8)
    x0 = np.full(6, 0.5)
    oracle = make_oracle(rosen, x0, rosen_der, ())
    backend = BoundedFiniteDifferenceHVP(oracle.gradient, lower, upper)
    body = trust_bounds(6, gtol=1e-9).with_bounds(lower, upper)
    f0, g0 = check_initial_point(oracle, x0)
    res = execute(body, Run(oracle, backend, x0, f0, g0, columns=BOUNDED_COLUMNS))
    ref = lbfgsb(rosen, rosen_der, x0, lower, upper)
    assert res.success
    np.testing.assert_allclose(res.x, ref.x, atol=1e-7)


def test_plain_finite_difference_backend_is_made_bounded():
    lower, upper = np.zeros(3), np.full(3, 0.5)
    x0 = np.full(3, 0.5)

    def jac(x):
        assert np.all(x >= lower) and np.all(x <= upper), x
        return rosen_der(x)

    oracle = make_oracle(rosen, x0, jac, ())
    backend = FiniteDifferenceHVP(oracle.gradient)  # knows nothing of the box
    f0, g0 = check_initial_point(oracle, x0)
    run = Run(oracle, backend, x0, f0, g0)
    res = execute(trust_bounds(3, gtol=1e-9).with_bounds(lower, upper), run)
    assert res.success
    np.testing.assert_allclose(res.x, lbfgsb(rosen, rosen_der, x0, lower, upper).x, atol=1e-7)


# -- the oracle never leaves the box -------------------------------------------------------

LOWER = np.array([-1.5, 1.0, 0.3, -2.0, -1.0])
UPPER = np.array([0.8, 1.5, 0.3, 2.0, 1.0])  # x2 fixed; some bounds active at the solution
X0 = np.array([0.8, 1.0, 0.3, 2.0, -1.0])  # on bounds in every coordinate


class BoxOnly:
    """rosen and its gradient, raising on any point outside the box (the way a model undefined
    there would fail), and counting calls."""

    def __init__(self):
        self.points = 0

    def check(self, x):
        self.points += 1
        if np.any(x < LOWER) or np.any(x > UPPER):
            raise AssertionError(f"evaluated outside the box at {x}")

    def fun(self, x):
        self.check(x)
        return rosen(x)

    def jac(self, x):
        self.check(x)
        return rosen_der(x)

    def combined(self, x):
        self.check(x)
        return rosen(x), rosen_der(x)

    def autograd_fun(self, x):
        if not isinstance(x, np.ndarray):  # a traced call: check the values inside the box
            self.check(x._value)
        else:
            self.check(x)
        return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def box_reference():
    return lbfgsb(rosen, rosen_der, X0, LOWER, UPPER)


@pytest.mark.parametrize(
    "mode",
    ["jac, forward products", "jac, central products", "jac=True", "jac='2-point'", "jac='3-point'",
     "autograd", "jac, exact hessp"],
)
def test_oracle_is_never_evaluated_outside_the_box(mode):
    model = BoxOnly()
    kwargs = {
        "jac, forward products": dict(fun=model.fun, jac=model.jac),
        "jac, central products": dict(fun=model.fun, jac=model.jac, hessp="3-point"),
        "jac=True": dict(fun=model.combined, jac=True),
        "jac='2-point'": dict(fun=model.fun, jac="2-point"),
        "jac='3-point'": dict(fun=model.fun, jac="3-point"),
        "autograd": dict(fun=model.autograd_fun, jac="autograd"),
        "jac, exact hessp": dict(fun=model.fun, jac=model.jac, hessp=lambda x, p: rosen_hess_prod(x, p)),
    }[mode]
    fun = kwargs.pop("fun")
    # a forward-difference gradient of fun is good to about sqrt(eps): ask for what it can give
    gtol = 1e-5 if mode == "jac='2-point'" else 1e-8
    res = curvopt.minimize(fun, X0, bounds=list(zip(LOWER, UPPER)), options={"gtol": gtol}, **kwargs)
    assert model.points > 0
    assert res.success, res.message
    ref = box_reference()
    np.testing.assert_allclose(res.x, ref.x, atol=1e-5 if mode == "jac='2-point'" else 1e-7)
    np.testing.assert_array_equal(res.active_mask, active(ref.x, LOWER, UPPER))


def test_gradient_sees_only_box_points_in_a_model_with_a_log_barrier_domain():
    # f defined only for x > 0 (log), bounds x >= 0: the minimizer is at the bound of some
    # coordinates; a single point with x <= 0 would give NaN or an exception.
    c = np.array([1.5, -1.0, 1.3, -0.2])

    def fun(x):
        if np.any(x < 0):
            raise ValueError("log of a negative number")
        return float(np.sum((x + 1.0) * np.log1p(x)) - c @ x)

    def jac(x):
        if np.any(x < 0):
            raise ValueError("log of a negative number")
        return np.log1p(x) + 1.0 - c

    # analytic minimum: log1p(x_i) = c_i - 1 where positive, else x_i = 0 on the bound
    expected = np.maximum(np.expm1(c - 1.0), 0.0)
    res = curvopt.minimize(fun, np.full(4, 2.0), jac=jac, bounds=[(0.0, None)] * 4, tol=1e-10)
    assert res.success
    np.testing.assert_allclose(res.x, expected, atol=1e-9)
    assert res.active_mask.tolist() == [0, -1, 0, -1]


# -- the bounded finite-difference backend ------------------------------------------------


def recording_gradient(lower, upper, points):
    def gradient(x):
        points.append(x.copy())
        assert np.all(x >= lower) and np.all(x <= upper), x
        return rosen_der(x)

    return gradient


@pytest.mark.parametrize("scheme, rtol", [("2-point", 1e-5), ("3-point", 1e-5)])
def test_bounded_products_match_the_exact_hessian_at_bounds(rng, scheme, rtol):
    lower = np.array([0.0, -1.0, 0.2, -2.0])
    upper = np.array([1.0, 0.5, 0.2 + 1e-12, 2.0])  # a sliver of a box in x3
    points = []
    backend = BoundedFiniteDifferenceHVP(recording_gradient(lower, upper, points), lower, upper, scheme)
    x = np.array([0.0, 0.5, 0.2, 0.3])  # at lower in x1, at upper in x2, squeezed in x3
    backend.linearize(x, rosen_der(x))
    H = rosen_hess(x)
    directions = [
        np.array([1.0, -1.0, 0.0, 0.5]),  # forward fits
        np.array([-1.0, 1.0, 0.0, 0.5]),  # only backward fits
        np.array([1.0, 1.0, 0.0, 0.5]),  # neither: split
        np.array([0.3, -0.2, 0.0, 0.0]),
    ]
    directions += [rng.standard_normal(4) * np.array([1, 1, 0, 1]) for _ in range(5)]
    for p in directions:
        np.testing.assert_allclose(backend(p), H @ p, rtol=rtol, atol=rtol * np.linalg.norm(H @ p))
    assert backend.n_split >= 1 and backend.n_backward >= 1
    assert len(points) > 0  # every one checked inside the box by the recording gradient


def test_backward_and_shortened_steps():
    lower, upper = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    points = []
    backend = BoundedFiniteDifferenceHVP(recording_gradient(lower, upper, points), lower, upper)
    x = np.array([1.0, 0.5])
    backend.linearize(x, rosen_der(x))
    p = np.array([1.0, 0.0])  # out of the box forward: the backward difference
    np.testing.assert_allclose(backend(p), rosen_hess(x) @ p, rtol=1e-5)
    assert backend.n_backward == 1 and points[-1][0] < 1.0
    # a box narrower than the step: the longer side, shortened
    lower2, upper2 = np.array([1.0 - 1e-9, -1.0]), np.array([1.0 + 1e-9, 1.0])
    points2 = []
    narrow = BoundedFiniteDifferenceHVP(recording_gradient(lower2, upper2, points2), lower2, upper2)
    narrow.linearize(x, rosen_der(x))
    out = narrow(p)
    assert np.all(np.isfinite(out)) and narrow.n_shortened + narrow.n_split >= 1
    # a fixed coordinate: its component is dropped
    fixed = BoundedFiniteDifferenceHVP(rosen_der, np.array([1.0, -1.0]), np.array([1.0, 1.0]))
    fixed.linearize(x, rosen_der(x))
    np.testing.assert_allclose(fixed(np.array([1.0, 1.0])), rosen_hess(x) @ np.array([0.0, 1.0]), rtol=1e-5)


def test_feasible_step():
    x = np.array([0.0, 0.5])
    lower, upper = np.array([0.0, 0.0]), np.array([1.0, np.inf])
    assert feasible_step(x, np.array([1.0, 1.0]), lower, upper) == 1.0
    assert feasible_step(x, np.array([-1.0, 1.0]), lower, upper) == 0.0
    assert feasible_step(x, np.array([0.0, 1.0]), lower, upper) == math.inf


# -- jac=True, counting, NaN, budgets, callback --------------------------------------------


def test_jac_true_with_bounds_counts_one_call_per_gradient(counted):
    combined = counted(lambda x: (rosen(x), rosen_der(x)))
    lower, upper = np.full(4, -1.5), np.full(4, 0.8)
    res = minimize_bounded(combined, np.zeros(4), jac=True, bounds=Bounds(lower, upper), options={"gtol": 1e-9})
    assert res.success
    assert res.nfev == res.njev == combined.calls
    ref = lbfgsb(rosen, rosen_der, np.zeros(4), lower, upper)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-7)


def test_nan_at_a_trial_point_inside_the_box_is_a_rejected_step():
    # The model fails (NaN) at its 2nd and 3rd evaluations, the first trial points, inside the
    # box: both steps are rejected and counted, the radius shrinks, and the run still reaches the
    # analytic bounded minimum.
    calls = []

    def fun(x):
        calls.append(x.copy())
        return math.nan if len(calls) in (2, 3) else rosen(x)

    lower, upper = np.array([-2.0, -2.0]), np.array([0.5, 2.0])
    res = minimize_bounded(fun, [-1.2, 1.0], jac=rosen_der, bounds=Bounds(lower, upper), options={"gtol": 1e-10})
    assert res.n_nonfinite == 2
    assert all(np.all(x >= lower) and np.all(x <= upper) for x in calls)
    assert res.success
    np.testing.assert_allclose(res.x, [0.5, 0.25], atol=1e-9)


def test_nan_everywhere_near_the_start_ends_honestly():
    def fun(x):
        return rosen(x) if np.array_equal(x, [0.0, 0.0]) else math.nan

    res = minimize_bounded(fun, [0.0, 0.0], jac=rosen_der, bounds=[(-1, 1), (-1, 1)])
    assert not res.success and res.status == curvopt.Status.NAN_RESULT
    assert res.n_nonfinite == 11 and np.array_equal(res.x, [0.0, 0.0])


def test_budget_callback_and_maxiter():
    lower, upper = np.full(4, -1.5), np.full(4, 0.8)
    res = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, bounds=Bounds(lower, upper),
                           options={"max_grad_calls": 7})
    assert res.status == curvopt.Status.EVAL_BUDGET and res.njev == 7 and not res.success
    assert np.all(res.x >= lower) and np.all(res.x <= upper)
    seen = []
    res = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, bounds=Bounds(lower, upper),
                           callback=lambda intermediate_result: seen.append(intermediate_result.pgnorm))
    assert res.success and len(seen) == res.nit and seen[-1] == res.pgnorm
    res = minimize_bounded(rosen, np.zeros(4), jac=rosen_der, bounds=Bounds(lower, upper), options={"maxiter": 2})
    assert res.status == curvopt.Status.MAXITER and res.nit == 2


def test_disp_prints_projected_gradient(capsys):
    curvopt.minimize(rosen, np.zeros(2), jac=rosen_der, method="trust-bounds", bounds=[(0, 0.5), (0, 1)],
                     options={"disp": True})
    out = capsys.readouterr().out
    assert "pgnorm" in out and "n_active" in out and "Optimization terminated successfully." in out


# -- bad input -----------------------------------------------------------------------------


def test_bound_parsing():
    lower, upper = as_bounds([(None, 1.0), (-2, None), (0, 0)], 3)
    np.testing.assert_array_equal(lower, [-np.inf, -2.0, 0.0])
    np.testing.assert_array_equal(upper, [1.0, np.inf, 0.0])
    lower, upper = as_bounds(Bounds(0.0, [1.0, 2.0]), 2)  # scalars broadcast
    np.testing.assert_array_equal(lower, [0.0, 0.0])
    np.testing.assert_array_equal(upper, [1.0, 2.0])


@pytest.mark.parametrize(
    "bounds, match",
    [
        ([(0.0, 1.0), (2.0, 1.0)], r"`bounds`.*lower bound above the upper bound at indices \[1\]"),
        ([(0.0, 1.0)], r"`bounds` must have one \(low, high\) pair per variable: 2; got 1"),
        (Bounds([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]), r"`bounds`.*do not broadcast"),
        ([(0.0, 1.0), (np.nan, 1.0)], r"`bounds` contains NaN"),
        ([(np.inf, None), (0.0, 1.0)], r"`bounds`.*no feasible point"),
        ([(0.0, 1.0), 3.0], r"`bounds`\[1\] must be a \(low, high\) pair"),
        (5.0, r"`bounds` must be a scipy.optimize.Bounds or a sequence"),
    ],
)
def test_bad_bounds_raise_value_errors_naming_bounds(bounds, match):
    with pytest.raises(ValueError, match=match):
        curvopt.minimize(rosen, np.zeros(2), jac=rosen_der, bounds=bounds)


def test_x0_outside_the_box_is_clipped_with_a_warning():
    lower, upper = np.full(3, -1.5), np.full(3, 0.8)
    with pytest.warns(OptimizeWarning, match="x0 is not within the bounds") as record:
        res = minimize_bounded(rosen, [2.0, -3.0, 0.0], jac=rosen_der, bounds=Bounds(lower, upper),
                               options={"gtol": 1e-9})
    assert record[0].filename == __file__
    assert res.success
    ref = lbfgsb(rosen, rosen_der, np.array([2.0, -3.0, 0.0]), lower, upper)  # L-BFGS-B clips too
    np.testing.assert_allclose(res.x, ref.x, atol=1e-7)


@pytest.mark.parametrize("options, match", [
    ({"eta": 0.3}, "eta"), ({"gtol": -1.0}, "gtol"), ({"maxiter": 0}, "maxiter"),
    ({"initial_trust_radius": 0.0}, "initial_trust_radius"),
])
def test_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        curvopt.minimize(rosen, np.zeros(2), jac=rosen_der, bounds=[(0, 1)] * 2, options=options)


def test_fixed_variables_stay_fixed():
    res = minimize_bounded(rosen, [0.3, 0.0, 0.0], jac=rosen_der, bounds=[(0.3, 0.3), (-2, 2), (-2, 2)],
                           options={"gtol": 1e-10})
    assert res.success and res.x[0] == 0.3
    ref = lbfgsb(rosen, rosen_der, np.zeros(3), np.array([0.3, -2, -2]), np.array([0.3, 2, 2]))
    np.testing.assert_allclose(res.x, ref.x, atol=1e-8)


def test_warnings_do_not_leak():
    # a clean run raises no warning at all (pytest turns them into errors anyway)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curvopt.minimize(rosen, np.zeros(3), jac=rosen_der, bounds=[(0, 0.5)] * 3)


# -- wiring into curvopt.minimize ----------------------------------------------------------


def test_bounds_route_to_trust_bounds_by_default_when_curvature_is_given():
    # as scipy switches its default to L-BFGS-B when given bounds; with finite-difference products
    # the default is 'trust-lbfgs' (tests/test_bounds_quasi_newton.py)
    lower, upper = np.full(4, -1.5), np.full(4, 0.8)
    default = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, hessp=rosen_hess_prod, bounds=Bounds(lower, upper),
                               tol=1e-9)
    explicit = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, hessp=rosen_hess_prod, method="Trust-Bounds",
                                bounds=Bounds(lower, upper), options={"gtol": 1e-9})
    wrapper = minimize_bounded(rosen, np.zeros(4), jac=rosen_der, hessp=rosen_hess_prod, bounds=Bounds(lower, upper),
                               options={"gtol": 1e-9})
    for res in (explicit, wrapper):
        np.testing.assert_array_equal(res.x, default.x)
        assert (res.nit, res.njev, res.nfev) == (default.nit, default.njev, default.nfev)
    assert default.success and default.pgnorm <= 1e-9
    np.testing.assert_allclose(default.x, lbfgsb(rosen, rosen_der, np.zeros(4), lower, upper).x, atol=1e-7)


def test_tol_sets_the_projected_gradient_tolerance():
    lower, upper = np.full(4, -1.5), np.full(4, 0.8)
    loose = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, bounds=Bounds(lower, upper), tol=1e-2)
    tight = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, bounds=Bounds(lower, upper), tol=1e-10)
    assert loose.pgnorm == pg_inf(rosen_der, loose.x, lower, upper) <= 1e-2
    assert tight.pgnorm == pg_inf(rosen_der, tight.x, lower, upper) <= 1e-10
    assert loose.nit < tight.nit


def test_minimize_warns_at_the_users_line():
    with pytest.warns(OptimizeWarning, match="x0 is not within the bounds") as record:
        curvopt.minimize(rosen, [2.0, 0.0], jac=rosen_der, bounds=[(0, 1)] * 2)
    assert record[0].filename == __file__
    with pytest.warns(OptimizeWarning, match="Unknown solver options.*inexact") as record:
        curvopt.minimize(rosen, [0.5, 0.0], jac=rosen_der, bounds=[(0, 1)] * 2, options={"inexact": True})
    assert record[0].filename == __file__


# -- the curvature check on the free variables ---------------------------------------------


def saddle_on_a_face(x):
    """x + y^4/4 - y^2/2: with x >= 0, the point (0, 0) is stationary (x at its bound) and a saddle
    on the face of the free variable y; the bounded minima are (0, +-1), f = -1/4."""
    return x[0] + 0.25 * x[1] ** 4 - 0.5 * x[1] ** 2


def saddle_on_a_face_grad(x):
    return np.array([1.0, x[1] ** 3 - x[1]])


def saddle_on_a_face_hessp(x, p):
    return np.array([0.0, (3 * x[1] ** 2 - 1.0) * p[1]])


def test_saddle_on_the_free_face_is_left():
    bounds = [(0.0, 2.0), (-2.0, 2.0)]
    # stationary from the start: 'auto' checks there, finds the negative curvature along y, leaves
    res = curvopt.minimize(saddle_on_a_face, [0.0, 0.0], jac=saddle_on_a_face_grad, bounds=bounds, tol=1e-10)
    assert res.success and res.is_local_minimum and res.active_mask.tolist() == [-1, 0]
    assert res.fun == pytest.approx(-0.25, abs=1e-14)
    assert res.min_curvature == pytest.approx(2.0, rel=1e-6)  # d2f/dy2 at y = +-1, x (active) left out
    # reached through an iteration: forward-difference products are checked only when asked for
    start = [1.0, 0.0]
    plain = curvopt.minimize(saddle_on_a_face, start, jac=saddle_on_a_face_grad, bounds=bounds, tol=1e-10)
    assert plain.success and plain.fun == 0.0 and "is_local_minimum" not in plain  # as L-BFGS-B: a saddle
    for kwargs in ({"options": {"verify": True}}, {"hessp": saddle_on_a_face_hessp}):
        res = curvopt.minimize(saddle_on_a_face, start, jac=saddle_on_a_face_grad, bounds=bounds, tol=1e-10, **kwargs)
        assert res.success and res.is_local_minimum, kwargs
        assert res.fun == pytest.approx(-0.25, abs=1e-14)


def test_escape_stops_at_the_box():
    # the same saddle with |y| <= 1/2: the escape step is cut by the box, y ends on a bound
    res = curvopt.minimize(saddle_on_a_face, [0.0, 0.0], jac=saddle_on_a_face_grad, bounds=[(0, 2), (-0.5, 0.5)],
                           hessp=saddle_on_a_face_hessp)
    assert res.success and abs(res.x[1]) == 0.5 and res.x[0] == 0.0
    assert res.active_mask.tolist() in ([-1, 1], [-1, -1])
    assert res.is_local_minimum and res.min_curvature == np.inf  # a vertex: no free variable left
    assert res.fun == pytest.approx(0.25 * 0.5**4 - 0.5 * 0.5**2, abs=1e-15)


def test_verify_false_stops_at_the_saddle():
    res = curvopt.minimize(saddle_on_a_face, [0.0, 0.0], jac=saddle_on_a_face_grad, bounds=[(0, 2), (-2, 2)],
                           options={"verify": False})
    assert res.success and res.nit == 0 and "is_local_minimum" not in res


@pytest.mark.parametrize("n_free", [12, 60])  # the whole reduced Hessian, and Lanczos (more than 40 free)
def test_curvature_check_covers_only_the_free_face(rng, n_free):
    from curvopt._verify import check_curvature
    from curvopt.hvp.backends import UserHessp

    Q, _ = np.linalg.qr(rng.standard_normal((n_free, n_free)))
    face = Q @ np.diag(np.concatenate([[-1.0], np.linspace(1.0, 10.0, n_free - 1)])) @ Q.T
    n = n_free + 20
    H = np.zeros((n, n))
    free = np.sort(rng.choice(n, n_free, replace=False))
    H[np.ix_(free, free)] = face
    active = np.setdiff1d(np.arange(n), free)
    H[active, active] = -5.0  # more negative off the face: must not be seen
    H[np.ix_(free, active)] = 0.3  # coupling: symmetric
    H[np.ix_(active, free)] = 0.3
    backend = UserHessp(lambda x, p: H @ p)
    check = check_curvature(backend, np.zeros(n), np.zeros(n), 40, free=free)
    rtol = 1e-10 if n_free <= 40 else 1e-3  # exact, or Lanczos to its tolerance (1e-3 ||H||)
    assert check.is_local_minimum is False
    assert check.min_curvature == pytest.approx(-1.0, rel=rtol)
    assert np.all(check.direction[active] == 0.0)
    np.testing.assert_allclose(abs(check.direction[free] @ Q[:, 0]), 1.0, rtol=rtol)
    assert check.n_products == n_free if n_free <= 40 else check.n_products <= 41
