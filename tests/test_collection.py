"""Every curvopt method on every problem of the collection, against scipy on the same problem.

Reference: scipy's trust-ncg with the exact Hessian-vector product, gtol 1e-9. Wherever it
succeeds, every curvopt method must succeed and end at a known minimum of the problem (the same
minimizer as scipy's where the problem states a unique one): with the same exact products, and
from the gradient alone (forward-difference products, the default).

Forward differences carry an error of about sqrt(eps) (1 + ||x||) times the third derivative plus
eps ||g|| / h of round-off; on a few badly scaled or large-residual problems that error is above what
gtol = 1e-9 asks for, and a method fails honestly (precision loss or the iteration limit, never a
false success). Those pairs are listed in FORWARD_DIFFERENCE_LIMITS and must succeed with central
differences ('3-point') instead; they are strict xfails with forward differences so that an
improvement shows.

'trust-bounds' runs here without bounds (an unconstrained problem is a box with no sides): its
stopping test is L-BFGS-B's, on the infinity norm of the (projected) gradient, and its honest-success
check uses that measure.
"""

import numpy as np
import pytest
import scipy.optimize

import curvopt
from curvopt._registry import METHODS
from curvopt.testing import problems
from curvopt.trust_region.bounded import projected_gradient

GTOL = 1e-9
PROBLEMS = [p for p in problems() if p.n <= 100]


def scipy_reference(problem):
    return scipy.optimize.minimize(problem.fun, problem.x0, jac=problem.jac, hessp=problem.hessp,
                                   method="trust-ncg", options={"gtol": GTOL, "maxiter": 20_000})


_REFERENCE = {}


def reference(problem):
    if problem.name not in _REFERENCE:
        _REFERENCE[problem.name] = scipy_reference(problem)
    return _REFERENCE[problem.name]


FORWARD_DIFFERENCE_LIMITS = {
    ("powell_badly_scaled", "trust-krylov"),  # x* = (1e-5, 9): relative steps far too large in x_1
    ("brown_badly_scaled", "trust-krylov"),  # x* = (1e6, 2e-6): ends at ||g|| = 1.03e-9, floor of the radius
}


def stationarity(method, x, g):
    """The measure `method` stops on: ||g||_2, or for the bounded method ||P[x - g] - x||_inf."""
    if METHODS[method].supports_bounds:
        return float(np.max(np.abs(projected_gradient(x, g, -np.inf, np.inf))))
    return float(np.linalg.norm(g))


# trust-lbfgs (issue 4, in progress) uses no Hessian-vector products in its steps: at gtol 1e-9 its
# limited-memory model stalls on these (radius floor or iteration limit, never a false success; on
# extended_powell_12 it converges 1.3e-3 from scipy's point of a singular minimum). The planned hybrid
# buys Newton-CG steps there. Strict, so that the fix shows.
QUASI_NEWTON_LIMITS = {
    "powell_badly_scaled", "brown_badly_scaled", "osborne_2", "watson_9", "extended_powell_12",
}


def known_limit(request, problem, method, hessp):
    if method == "trust-lbfgs" and (problem.name in QUASI_NEWTON_LIMITS or (
            problem.name == "biggs_exp6" and hessp is not None)):
        request.applymarker(pytest.mark.xfail(strict=True, reason="limited-memory model stalls at gtol 1e-9"))


def check_against_scipy(problem, method, hessp):
    ref = reference(problem)
    res = curvopt.minimize(problem.fun, problem.x0, jac=problem.jac, hessp=hessp, method=method,
                           options={"gtol": GTOL, "maxiter": 20_000})
    # honest success: the stopping test really holds at the returned point
    if res.success:
        assert stationarity(method, res.x, problem.jac(res.x)) <= GTOL
    assert res.fun == pytest.approx(problem.fun(res.x), rel=1e-12, abs=1e-300)
    if not ref.success:
        pytest.skip(f"scipy trust-ncg fails here: {ref.message}")
    assert res.success, res.message
    assert problem.is_solution(res.x, res.fun), (res.fun, problem.f_min, problem.f_local)
    if problem.x_min is not None and problem.is_solution(ref.x, ref.fun) and abs(ref.fun - res.fun) <= 1e-8 * max(
        1.0, abs(ref.fun)
    ):
        scale = 1.0 + np.linalg.norm(ref.x)
        assert np.linalg.norm(res.x - ref.x) <= 1e-3 * scale


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
def test_exact_products_match_scipy(problem, method, request):
    known_limit(request, problem, method, problem.hessp)
    check_against_scipy(problem, method, problem.hessp)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
def test_gradient_only_matches_scipy(problem, method, request):
    if (problem.name, method) in FORWARD_DIFFERENCE_LIMITS:
        request.applymarker(pytest.mark.xfail(strict=True, reason="forward-difference error above gtol"))
    known_limit(request, problem, method, None)
    check_against_scipy(problem, method, None)


@pytest.mark.parametrize("name, method", sorted(FORWARD_DIFFERENCE_LIMITS))
def test_central_differences_reach_what_forward_cannot(name, method):
    (problem,) = [p for p in PROBLEMS if p.name == name]
    check_against_scipy(problem, method, "3-point")


@pytest.mark.parametrize("problem", [p for p in PROBLEMS if p.n <= 12], ids=lambda p: p.name)
def test_exact_products_give_scipys_iterations(problem):
    """Same algorithm and parameters as scipy's trust-ncg: with exact products the runs agree."""
    ref = reference(problem)
    if not ref.success:
        pytest.skip("scipy trust-ncg fails here")
    res = curvopt.minimize(problem.fun, problem.x0, jac=problem.jac, hessp=problem.hessp,
                           method="trust-ncg", options={"gtol": GTOL, "maxiter": 20_000, "verify": False})
    assert res.success
    assert problem.is_solution(res.x, res.fun)
    assert res.fun == pytest.approx(ref.fun, rel=1e-6, abs=1e-10)
    assert res.nhev <= ref.nhev  # no product is spent on the predicted reduction
