"""Tests of the test-problem collection `curvopt.testing`.

Every problem's derivatives are checked against finite differences, against
automatic differentiation of its autograd objective and (where present) its
numba versions; every stored minimum is checked by running scipy from x0.
"""

import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

import curvopt.testing as ct
from curvopt.testing import Problem, check_grad, check_hvp, get_problem, problems
from curvopt.testing._autodiff import autograd_derivatives

SMALL = problems(max_n=100)
SMALL_IDS = [p.name for p in SMALL]
ALL = problems()
ALL_IDS = [p.name for p in ALL]
NUMBA = [p for p in SMALL if p.has_numba]

MGH_NAMES = {
    "rosenbrock", "freudenstein_roth", "powell_badly_scaled", "brown_badly_scaled", "beale",
    "jennrich_sampson", "helical_valley", "bard", "gaussian", "meyer", "gulf_research", "box_3d",
    "powell_singular", "wood", "kowalik_osborne", "brown_dennis", "osborne_1", "biggs_exp6",
    "osborne_2", "watson_6", "watson_9", "extended_rosenbrock_10", "extended_powell_12",
    "penalty_1_4", "penalty_1_10", "penalty_2_4", "penalty_2_10", "variably_dimensioned_10",
    "trigonometric_10", "brown_almost_linear_10", "discrete_boundary_value_10",
    "discrete_integral_equation_10", "broyden_tridiagonal_10", "broyden_banded_10",
    "linear_full_rank_10",
}

#: Minimum values as printed by Moré, Garbow & Hillstrom (1981), recorded here
#: independently of the package, to check the refined values stored there.
MGH_PUBLISHED = {
    "jennrich_sampson": 124.362,
    "bard": 8.21487e-3,
    "gaussian": 1.12793e-8,
    "meyer": 87.9458,
    "kowalik_osborne": 3.07505e-4,
    "brown_dennis": 85822.2,
    "osborne_1": 5.46489e-5,
    "osborne_2": 4.01377e-2,
    "watson_6": 2.28767e-3,
    "watson_9": 1.39976e-6,
    "watson_12": 4.72238e-10,
    "penalty_1_4": 2.24997e-5,
    "penalty_1_10": 7.08765e-5,
    "penalty_2_4": 9.37629e-6,
    "penalty_2_10": 2.93660e-4,
}
MGH_PUBLISHED_LOCAL = {
    "freudenstein_roth": 48.9842,
    "biggs_exp6": 5.65565e-3,
}


def _second_point(problem, seed=0):
    """A point near x0 (5% relative perturbation), away from any special structure."""
    rng = np.random.default_rng(seed)
    x0 = problem.x0
    return x0 + 0.05 * (np.abs(x0) + 0.1) * rng.standard_normal(problem.n)


def _central_difference_gradient(fun, x):
    g = np.empty_like(x)
    for i in range(x.size):
        h = 6e-6 * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (fun(x + e) - fun(x - e)) / (2.0 * h)
    return g


def _central_difference_hessp(jac, x, p):
    h = 6e-6 * max(1.0, np.linalg.norm(x)) / np.linalg.norm(p)
    return (jac(x + h * p) - jac(x - h * p)) / (2.0 * h)


# --------------------------------------------------------------- the collection
def test_collection_has_the_mgh_set_and_more():
    names = [p.name for p in ALL]
    assert len(names) == len(set(names))
    assert len(ALL) >= 25
    assert MGH_NAMES <= set(names)
    assert {"chained_rosenbrock_10", "chained_rosenbrock_1000", "ill_conditioned_quadratic_100"} <= set(names)
    for p in ALL:
        assert isinstance(p, Problem)
        assert p.reference
        assert np.isfinite(p.f_min)


def test_filters():
    assert all(p.n <= 5 for p in problems(max_n=5))
    quadratics = problems(tags={"quadratic"})
    assert quadratics and all("quadratic" in p.tags for p in quadratics)
    both = problems(max_n=100, tags=["mgh", "nonzero-residual"])
    assert {p.name for p in both} >= {"bard", "meyer", "osborne_2", "watson_9"}
    assert problems(tags="numba")
    assert problems(tags="no-such-tag") == []


def test_public_names_are_exported():
    for name in ct.__all__:
        assert hasattr(ct, name)


def test_import_is_cheap():
    code = ("import sys, curvopt.testing; "
            "print('autograd' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_x0_and_x_min_are_fresh_float_copies():
    p = get_problem("rosenbrock")
    x0 = p.x0
    assert x0.dtype == np.float64 and x0.shape == (2,)
    x0[:] = 99.0
    np.testing.assert_array_equal(p.x0, [-1.2, 1.0])
    assert p.x0 is not p.x0
    xm = p.x_min
    xm[0] = -5.0
    np.testing.assert_array_equal(p.x_min, [1.0, 1.0])
    with pytest.raises(AttributeError):
        p.n = 3


def test_get_problem_by_name_and_size():
    assert get_problem("chained_rosenbrock", 7).name == "chained_rosenbrock_7"
    assert get_problem("chained_rosenbrock_1000").n == 1000
    assert get_problem("chained_rosenbrock").n == 10
    assert get_problem("meyer", 3).n == 3
    assert get_problem("watson_9").f_min == pytest.approx(1.39976e-6, rel=1e-5)
    with pytest.raises(ValueError, match="fixed dimension"):
        get_problem("meyer", 4)
    with pytest.raises(ValueError, match="unknown problem"):
        get_problem("no_such_problem")
    with pytest.raises(ValueError, match="multiple of 4"):
        get_problem("extended_powell", 6)
    with pytest.raises(ValueError, match="multiple of 2"):
        ct.extended_rosenbrock(5)
    with pytest.raises(ValueError, match="recorded only"):
        ct.watson(7)
    with pytest.raises(ValueError, match="names dimension"):
        get_problem("chained_rosenbrock_10", n=11)


def test_is_solution_tolerances():
    p = get_problem("meyer")
    assert p.is_solution(f=p.f_min)
    assert p.is_solution(f=p.f_min * (1 + 5e-7))
    assert not p.is_solution(f=p.f_min * (1 + 5e-6))
    assert p.is_solution(f=p.f_min * (1 + 5e-6), rtol=1e-4)
    assert p.is_solution(p.x_min)
    q = get_problem("freudenstein_roth")
    assert q.is_solution(f=48.98425367924)
    assert not q.is_solution(f=48.98425367924, allow_local=False)
    assert q.matching_minimum(1e-9) == 0.0
    assert not q.is_solution(f=float("nan"))
    assert get_problem("rosenbrock").is_solution(f=5e-9)
    assert not get_problem("rosenbrock").is_solution(f=5e-8)


def test_refined_minima_agree_with_published_digits():
    for name, published in MGH_PUBLISHED.items():
        stored = get_problem(name).f_min
        assert abs(stored - published) <= 1e-5 * published, name
    for name, published in MGH_PUBLISHED_LOCAL.items():
        (stored,) = get_problem(name).f_local
        assert abs(stored - published) <= 1e-5 * published, name


def test_penalty_1_minimum_from_the_cubic():
    for n in (4, 10, 50):
        p = ct.penalty_1(n)
        assert p.is_solution(p.x_min)
        assert np.linalg.norm(p.jac(p.x_min)) < 1e-14


# ------------------------------------------------------------- derivatives
@pytest.mark.parametrize("problem", SMALL, ids=SMALL_IDS)
def test_jac_against_finite_differences(problem):
    for x in (problem.x0, _second_point(problem)):
        g = problem.jac(x)
        assert g.shape == (problem.n,) and g.dtype == np.float64
        g_fd = _central_difference_gradient(problem.fun, x)
        scale = np.abs(g).max() + 1e-8 * max(1.0, abs(problem.fun(x)))
        np.testing.assert_allclose(g, g_fd, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("problem", SMALL, ids=SMALL_IDS)
def test_hessp_against_hess_and_finite_differences(problem):
    rng = np.random.default_rng(1)
    for x in (problem.x0, _second_point(problem)):
        h = problem.hess(x)
        assert h.shape == (problem.n, problem.n)
        np.testing.assert_allclose(h, h.T, rtol=1e-12, atol=1e-12 * np.abs(h).max())
        p = rng.standard_normal(problem.n)
        hp = problem.hessp(x, p)
        assert hp.shape == (problem.n,) and hp.dtype == np.float64
        scale = np.abs(hp).max()
        np.testing.assert_allclose(hp, h @ p, rtol=1e-10, atol=1e-10 * scale)
        hp_fd = _central_difference_hessp(problem.jac, x, p)
        np.testing.assert_allclose(hp, hp_fd, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("problem", SMALL, ids=SMALL_IDS)
def test_against_automatic_differentiation(problem):
    """Hand-written derivatives equal autograd's (trivially so for autograd-derived ones)."""
    fun, jac, hessp, hess = autograd_derivatives(problem.autograd_objective)
    rng = np.random.default_rng(2)
    for x in (problem.x0, _second_point(problem)):
        p = rng.standard_normal(problem.n)
        assert problem.fun(x) == pytest.approx(fun(x), rel=1e-13, abs=1e-300)
        g = jac(x)
        np.testing.assert_allclose(problem.jac(x), g, rtol=1e-12, atol=1e-13 * np.abs(g).max())
        hp = hessp(x, p)
        np.testing.assert_allclose(problem.hessp(x, p), hp, rtol=1e-12, atol=1e-13 * np.abs(hp).max())
        h = hess(x)
        np.testing.assert_allclose(problem.hess(x), h, rtol=1e-12, atol=1e-13 * np.abs(h).max())


@pytest.mark.parametrize("problem", SMALL, ids=SMALL_IDS)
def test_residual_gives_the_objective(problem):
    if problem.residual is None:
        assert "least-squares" not in problem.tags
        return
    r = problem.residual(problem.x0)
    assert r.shape == (problem.m,)
    assert np.dot(r, r) == pytest.approx(problem.fun(problem.x0), rel=1e-13)


@pytest.mark.parametrize("problem", SMALL, ids=SMALL_IDS)
def test_known_minimizer(problem):
    x = problem.x_min
    if x is None:
        pytest.skip("no closed-form minimizer")
    assert problem.is_solution(x, allow_local=False)
    tol = 1e-7 * max(1.0, abs(problem.f_min)) * max(1.0, np.abs(x).max())
    assert np.abs(problem.jac(x)).max() <= tol


@pytest.mark.parametrize("problem", SMALL, ids=SMALL_IDS)
def test_taylor_checks_pass_on_exact_derivatives(problem):
    for x in (problem.x0, _second_point(problem)):
        result = check_grad(problem.fun, problem.jac, x, rng=3)
        assert result.passed, result.message
        result = check_hvp(problem.jac, problem.hessp, x, rng=3)
        assert result.passed, result.message


@pytest.mark.parametrize("problem", SMALL, ids=SMALL_IDS)
def test_taylor_checks_fail_on_wrong_derivatives(problem):
    x = problem.x0
    result = check_grad(problem.fun, lambda z: 1.01 * problem.jac(z), x, rng=3)
    assert not result.passed
    assert result.slope == pytest.approx(1.0, abs=0.15)
    result = check_hvp(problem.jac, lambda z, p: 1.01 * problem.hessp(z, p), x, rng=3)
    assert not result.passed
    assert result.slope == pytest.approx(1.0, abs=0.15)


def test_numba_kernels_present_where_required():
    for name in ("chained_rosenbrock_10", "extended_rosenbrock_10", "extended_powell_12",
                 "ill_conditioned_quadratic_100", "rosenbrock", "powell_singular", "wood"):
        assert get_problem(name).has_numba, name


@pytest.mark.parametrize("problem", NUMBA, ids=[p.name for p in NUMBA])
def test_numba_matches_numpy(problem):
    rng = np.random.default_rng(4)
    for x in (problem.x0, _second_point(problem)):
        p = rng.standard_normal(problem.n)
        assert problem.numba_fun(x) == pytest.approx(problem.fun(x), rel=1e-13, abs=1e-300)
        g = problem.jac(x)
        np.testing.assert_allclose(problem.numba_jac(x), g, rtol=1e-13, atol=1e-14 * np.abs(g).max())
        hp = problem.hessp(x, p)
        np.testing.assert_allclose(problem.numba_hessp(x, p), hp, rtol=1e-12, atol=1e-13 * np.abs(hp).max())


def test_quadratic_numba_with_other_condition_number():
    p = ct.ill_conditioned_quadratic(50, cond=1e3)
    assert p.name == "ill_conditioned_quadratic_50_cond1000"
    x = p.x0 + 0.3
    np.testing.assert_allclose(p.numba_jac(x), p.jac(x), rtol=1e-13)
    np.testing.assert_allclose(np.diag(p.hess(x))[[0, -1]], [1.0, 1e3])


# ---------------------------------------------------- minima validated by scipy
def _scipy_trust_exact(problem):
    with np.errstate(all="ignore"):
        return scipy.optimize.minimize(problem.fun, problem.x0, jac=problem.jac, hess=problem.hess,
                                       method="trust-exact", options={"gtol": 1e-9, "maxiter": 3000})


SLOW_TRUST_EXACT = {"brown_badly_scaled", "meyer"}


def _converged(result):
    """scipy's success, or its precision-loss stop (status 2) at a near-stationary point.

    With gtol = 1e-9 scipy's trust-region methods often stop on "a bad
    approximation caused failure to predict improvement": round-off stalls them
    at a point more accurate than gtol = 1e-5 would give.
    """
    if result.success:
        return True
    near_stationary = np.abs(result.jac).max() <= 1e-5 * max(1.0, abs(result.fun))
    return result.status == 2 and near_stationary


@pytest.mark.parametrize(
    "problem",
    [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW_TRUST_EXACT else p for p in SMALL],
    ids=SMALL_IDS)
def test_scipy_trust_exact_ends_at_a_known_minimum(problem):
    result = _scipy_trust_exact(problem)
    if not _converged(result):
        pytest.skip(f"scipy trust-exact did not converge: {result.message}")
    assert problem.is_solution(result.x, result.fun), (result.fun, problem.f_min, problem.f_local)


@pytest.mark.slow
@pytest.mark.parametrize("problem", ALL, ids=ALL_IDS)
def test_scipy_trust_ncg_ends_at_a_known_minimum(problem):
    with np.errstate(all="ignore"):
        result = scipy.optimize.minimize(problem.fun, problem.x0, jac=problem.jac, hessp=problem.hessp,
                                         method="trust-ncg", options={"gtol": 1e-9, "maxiter": 20000})
    if not _converged(result):
        pytest.skip(f"scipy trust-ncg did not converge: {result.message}")
    assert problem.is_solution(result.x, result.fun), (result.fun, problem.f_min, problem.f_local)


@pytest.mark.slow
@pytest.mark.parametrize("problem", ALL, ids=ALL_IDS)
def test_scipy_lbfgsb_ends_at_a_known_minimum(problem):
    with np.errstate(all="ignore"):
        result = scipy.optimize.minimize(problem.fun, problem.x0, jac=problem.jac, method="L-BFGS-B",
                                         options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000,
                                                  "maxcor": 20})
    # L-BFGS-B often stops early in badly scaled valleys; judge only clear stationary points
    if np.abs(result.jac).max() > 1e-7 * max(1.0, abs(result.fun)):
        pytest.skip("L-BFGS-B did not reach a clearly stationary point")
    assert problem.is_solution(result.x, result.fun), (result.fun, problem.f_min, problem.f_local)


def test_freudenstein_roth_local_minimum_is_reached():
    problem = get_problem("freudenstein_roth")
    result = _scipy_trust_exact(problem)
    assert problem.matching_minimum(result.fun) == problem.f_local[0]


# ------------------------------------------------------------- large problems
def test_chained_rosenbrock_1e5_is_fast_and_matches_scipy():
    n = 100_000
    start = time.perf_counter()
    problem = ct.chained_rosenbrock(n)
    x = problem.x0 + 0.01
    p = np.cos(np.arange(n))
    f, g, hp = problem.fun(x), problem.jac(x), problem.hessp(x, p)
    elapsed = time.perf_counter() - start
    assert problem.hess is None
    assert elapsed < 1.0
    assert f == pytest.approx(scipy.optimize.rosen(x), rel=1e-13)
    np.testing.assert_allclose(g, scipy.optimize.rosen_der(x), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(hp, scipy.optimize.rosen_hess_prod(x, p), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(problem.numba_hessp(x, p), hp, rtol=1e-12, atol=1e-9)
    assert problem.f_local == (pytest.approx(3.986623854300934, rel=1e-14),)


@pytest.mark.parametrize("builder, n", [(ct.extended_rosenbrock, 100_000), (ct.extended_powell, 100_000),
                                        (ct.ill_conditioned_quadratic, 100_000),
                                        (ct.broyden_tridiagonal, 100_000)])
def test_large_hand_coded_problems_build_quickly(builder, n):
    start = time.perf_counter()
    problem = builder(n)
    x = problem.x0
    problem.fun(x), problem.jac(x), problem.hessp(x, x)
    assert time.perf_counter() - start < 1.0
    assert problem.hess is None


def test_dense_hessian_only_up_to_2000():
    assert ct.chained_rosenbrock(2000).hess is not None
    assert ct.chained_rosenbrock(2001).hess is None


def test_chained_rosenbrock_matches_scipy_hessian():
    x = np.linspace(-1.5, 2.0, 9)
    np.testing.assert_allclose(ct.chained_rosenbrock(9).hess(x), scipy.optimize.rosen_hess(x), rtol=1e-13)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), seed=st.integers(0, 2**32 - 1))
def test_chained_rosenbrock_matches_scipy_everywhere(n, seed):
    rng = np.random.default_rng(seed)
    x = 2.0 * rng.standard_normal(n)
    p = rng.standard_normal(n)
    problem = ct.chained_rosenbrock(n)
    assert problem.fun(x) == pytest.approx(scipy.optimize.rosen(x), rel=1e-13)
    np.testing.assert_allclose(problem.jac(x), scipy.optimize.rosen_der(x), rtol=1e-12, atol=1e-10)
    expected = scipy.optimize.rosen_hess_prod(x, p)
    np.testing.assert_allclose(problem.hessp(x, p), expected, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(problem.numba_hessp(x, p), expected, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(problem.numba_jac(x), problem.jac(x), rtol=1e-13, atol=1e-10)


def test_lennard_jones_hessian_is_the_derivative_of_the_gradient():
    from curvopt.testing.potentials import lennard_jones, lennard_jones_hessian

    rng = np.random.default_rng(3)
    x = (1.12 * np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], float)
         + rng.normal(0, 0.05, (5, 3))).ravel()
    h = 1e-6
    H_fd = np.column_stack([(lennard_jones(x + h * e)[1] - lennard_jones(x - h * e)[1]) / (2 * h)
                            for e in np.eye(x.size)])
    np.testing.assert_allclose(lennard_jones_hessian(x), H_fd, rtol=1e-6, atol=1e-5)
    assert not lennard_jones_hessian(x, rc=0.5).any()  # every pair beyond the cut-off
