"""The compiled trust-ncg (curvopt.trust_region._compiled) against the Python path.

The compiled loop promises the Python loop's iterates and counts, so most
tests run both on the same problem and compare everything; the Python path
is forced by wrapping the jitted functions in lambdas.  The problems are
jitted here (with ``cache=True``, so a second test run compiles nothing).
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.optimize
from numba import njit

import curvopt
from curvopt._result import Status
from curvopt.trust_region._compiled import can_compile, compiled_trust_ncg, is_jitted

COUNTS = ("nit", "nfev", "njev", "nhev", "n_hvp", "cg_iterations", "n_nonfinite", "status", "success")


# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------

@njit(cache=True)
def rosen(x):
    """Chained Rosenbrock, scipy.optimize.rosen."""
    s = 0.0
    for i in range(x.size - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


@njit(cache=True)
def rosen_der(x):
    g = np.zeros(x.size)
    for i in range(x.size - 1):
        t = x[i + 1] - x[i] ** 2
        g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * t
    return g


@njit(cache=True)
def rosen_hessp(x, p):
    hp = np.zeros(x.size)
    for i in range(x.size - 1):
        hp[i] += (1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0) * p[i] - 400.0 * x[i] * p[i + 1]
        hp[i + 1] += -400.0 * x[i] * p[i] + 200.0 * p[i + 1]
    return hp


@njit(cache=True)
def quad(x, A, b):
    """0.5 x'Ax - b'x, with its data in `args`."""
    return 0.5 * np.dot(x, A @ x) - np.dot(b, x)


@njit(cache=True)
def quad_der(x, A, b):
    return A @ x - b


@njit(cache=True)
def quad_hessp(x, p, A, b):
    return A @ p


@njit(cache=True)
def double_well(x, c):
    """sum(x^4/4 - x^2/2) + c sum((x[i+1] - x[i])^2): negative curvature near 0."""
    s = 0.0
    for i in range(x.size):
        s += 0.25 * x[i] ** 4 - 0.5 * x[i] ** 2
    for i in range(x.size - 1):
        s += c * (x[i + 1] - x[i]) ** 2
    return s


@njit(cache=True)
def double_well_der(x, c):
    g = x ** 3 - x
    for i in range(x.size - 1):
        t = 2.0 * c * (x[i + 1] - x[i])
        g[i] -= t
        g[i + 1] += t
    return g


# From (-1.2, 1) the Rosenbrock path tries trial points with x[1] down to
# -0.14; these versions are undefined below x[1] = -0.1.

@njit(cache=True)
def rosen_half_plane(x):
    """Rosenbrock for x[1] >= -0.1, inf below."""
    if x[1] < -0.1:
        return np.inf
    return rosen(x)


@njit(cache=True)
def rosen_der_half_plane(x):
    if x[1] < -0.1:
        return np.full(x.size, np.nan)
    return rosen_der(x)


@njit(cache=True)
def rosen_raising(x):
    """Rosenbrock that raises below x[1] = -0.1."""
    if x[1] < -0.1:
        raise ValueError("outside the domain")
    return rosen(x)


@njit(cache=True)
def sphere(x):
    return 0.5 * np.dot(x, x)


@njit(cache=True)
def sphere_der_raising(x):
    """The gradient of `sphere`, raising as soon as x[0] moves below 1 (inside the first product)."""
    if x[0] < 1.0 - 1e-9:
        raise ZeroDivisionError("gradient undefined here")
    return x.copy()


@njit(cache=True)
def rosen32(x):
    return np.float32(rosen(x))


@njit(cache=True)
def rosen_der32(x):
    return rosen_der(x).astype(np.float32)


def python_path(fun, jac, x0, args=(), hessp="2-point", **options):
    """curvopt.minimize on the Python loop: lambdas are not jitted, so nothing can take the compiled path."""
    py_hessp = hessp if isinstance(hessp, str) else (lambda x, p, *a: hessp(x, p, *a))
    options = {"compiled": False, "verify": False, **options}  # the compiled path does not verify
    return curvopt.minimize(lambda x, *a: fun(x, *a), x0, args=args, method="trust-ncg",
                            jac=lambda x, *a: jac(x, *a), hessp=py_hessp, options=options)


def assert_same_run(res_c, res_p, atol=1e-10):
    assert res_c.compiled is True
    for key in COUNTS:
        assert res_c[key] == res_p[key], (key, res_c[key], res_p[key])
    np.testing.assert_allclose(res_c.x, res_p.x, rtol=0, atol=atol)
    np.testing.assert_allclose(res_c.jac, res_p.jac, rtol=0, atol=atol * max(1.0, np.max(np.abs(res_p.jac))))
    assert res_c.fun == pytest.approx(res_p.fun, rel=1e-12, abs=1e-15)
    assert res_c.message == res_p.message
    assert ("exception" in res_c) == ("exception" in res_p)
    assert set(res_p) - {"hess_inv"} <= set(res_c)  # `minimize` adds hess_inv to both paths alike


def rosen_start(n):
    return np.tile([-1.2, 1.0], n // 2)


# ---------------------------------------------------------------------------
# Same iterates, same counts
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 100])
@pytest.mark.parametrize("hessp", ["2-point", "3-point", "exact"])
def test_rosenbrock_same_as_python_path(n, hessp):
    hessp = rosen_hessp if hessp == "exact" else hessp
    x0 = rosen_start(n)
    res_c = compiled_trust_ncg(rosen, rosen_der, hessp, x0, (), gtol=1e-8)
    res_p = python_path(rosen, rosen_der, x0, hessp=hessp, gtol=1e-8)
    assert res_c.success
    assert_same_run(res_c, res_p)


@pytest.mark.parametrize("hessp", ["2-point", "exact"])
def test_quadratic_with_array_args(hessp, rng):
    n = 30
    M = rng.standard_normal((n, n))
    A = M @ M.T + n * np.eye(n)
    b = rng.standard_normal(n)
    hessp = quad_hessp if hessp == "exact" else hessp
    x0 = np.zeros(n)
    res_c = compiled_trust_ncg(quad, quad_der, hessp, x0, (A, b), gtol=1e-9)
    res_p = python_path(quad, quad_der, x0, args=(A, b), hessp=hessp, gtol=1e-9)
    assert res_c.success
    assert_same_run(res_c, res_p)
    np.testing.assert_allclose(res_c.x, np.linalg.solve(A, b), atol=1e-8)


def test_negative_curvature_with_float_arg():
    # From near the saddle at 0 the first directions have negative curvature:
    # the steps go to the boundary and the radius grows.
    x0 = np.linspace(-0.01, 0.02, 7)
    res_c = compiled_trust_ncg(double_well, double_well_der, "2-point", x0, (0.1,), gtol=1e-9,
                               initial_trust_radius=0.1)
    res_p = python_path(double_well, double_well_der, x0, args=(0.1,), gtol=1e-9, initial_trust_radius=0.1)
    assert res_c.success
    assert_same_run(res_c, res_p)
    assert np.all(np.abs(np.abs(res_c.x) - 1.0) < 0.2)  # a minimizer, not the saddle


def test_options_and_status_maxiter():
    x0 = rosen_start(2)
    kw = dict(gtol=1e-8, maxiter=7, initial_trust_radius=0.3, max_trust_radius=2.0, eta=0.2, cg_maxiter=1)
    res_c = compiled_trust_ncg(rosen, rosen_der, "2-point", x0, (), hvp_eps=1e-6, **kw)
    res_p = python_path(rosen, rosen_der, x0, hvp_eps=1e-6, **kw)
    assert res_c.status == Status.MAXITER and not res_c.success
    assert_same_run(res_c, res_p)


def test_scipy_reaches_the_same_minimizer():
    x0 = rosen_start(100)
    res_c = compiled_trust_ncg(rosen, rosen_der, rosen_hessp, x0, (), gtol=1e-6)
    res_s = scipy.optimize.minimize(scipy.optimize.rosen, x0, method="trust-ncg", jac=scipy.optimize.rosen_der,
                                    hessp=scipy.optimize.rosen_hess_prod, options={"gtol": 1e-6})
    assert res_c.success and res_s.success
    np.testing.assert_allclose(res_c.x, res_s.x, atol=1e-5)
    np.testing.assert_allclose(res_c.x, 1.0, atol=1e-5)


# ---------------------------------------------------------------------------
# Failures at trial points, budget, errors
# ---------------------------------------------------------------------------

def test_nonfinite_region_rejected_and_run_continues():
    x0 = rosen_start(2)
    res_c = compiled_trust_ncg(rosen_half_plane, rosen_der_half_plane, "2-point", x0, (), gtol=1e-8)
    res_p = python_path(rosen_half_plane, rosen_der_half_plane, x0, gtol=1e-8)
    assert res_c.success and res_c.n_nonfinite > 0
    assert_same_run(res_c, res_p)
    np.testing.assert_allclose(res_c.x, 1.0, atol=1e-6)


def test_exception_at_trial_points_counts_as_nonfinite():
    x0 = rosen_start(2)
    res_c = compiled_trust_ncg(rosen_raising, rosen_der, "2-point", x0, (), gtol=1e-8)
    res_p = python_path(rosen_raising, rosen_der, x0, gtol=1e-8)
    assert res_c.success and res_c.n_nonfinite > 0
    assert_same_run(res_c, res_p)


def test_exception_inside_a_product_ends_with_oracle_error():
    x0 = np.ones(2)
    res_c = compiled_trust_ncg(sphere, sphere_der_raising, "2-point", x0, ())
    res_p = python_path(sphere, sphere_der_raising, x0)
    assert res_c.status == Status.ORACLE_ERROR and not res_c.success
    assert_same_run(res_c, res_p)
    assert isinstance(res_c.exception, ZeroDivisionError)
    np.testing.assert_array_equal(res_c.x, x0)


@pytest.mark.parametrize("hessp", ["2-point", "3-point"])
def test_gradient_budget(hessp):
    x0 = rosen_start(2)
    res_c = compiled_trust_ncg(rosen, rosen_der, hessp, x0, (), gtol=1e-8, max_grad_calls=25)
    res_p = python_path(rosen, rosen_der, x0, hessp=hessp, gtol=1e-8, max_grad_calls=25)
    assert res_c.status == Status.EVAL_BUDGET and res_c.success is False
    assert res_c.njev == 25
    assert_same_run(res_c, res_p)


@njit(cache=True)
def nan_at_start(x):
    return np.nan


@njit(cache=True)
def short_gradient(x):
    return np.zeros(x.size - 1)


def test_bad_values_at_x0_raise_the_python_paths_errors():
    x0 = rosen_start(2)
    for fun, jac in ((nan_at_start, rosen_der), (rosen, short_gradient)):
        with pytest.raises(ValueError) as compiled_error:
            compiled_trust_ncg(fun, jac, None, x0, ())
        with pytest.raises(ValueError) as python_error:
            python_path(fun, jac, x0)
        assert str(compiled_error.value) == str(python_error.value)


def test_other_return_types_are_adapted():
    x0 = rosen_start(2)
    res = compiled_trust_ncg(rosen32, rosen_der32, None, x0, (), gtol=1e-3)
    assert res.success and res.compiled
    np.testing.assert_allclose(res.x, 1.0, atol=1e-2)


# ---------------------------------------------------------------------------
# Entry-point predicates
# ---------------------------------------------------------------------------

def test_is_jitted_and_can_compile():
    assert is_jitted(rosen) and not is_jitted(rosen.py_func) and not is_jitted(scipy.optimize.rosen)
    assert can_compile(rosen, rosen_der, None, None, None, {})
    assert can_compile(rosen, rosen_der, None, rosen_hessp, None, {"gtol": 1e-3})
    assert can_compile(rosen, rosen_der, None, "3-point", None, None)
    assert not can_compile(rosen, True, None, None, None, {})
    assert not can_compile(rosen, "2-point", None, None, None, {})
    assert not can_compile(rosen, rosen_der, None, "autograd", None, {})
    assert not can_compile(rosen, rosen_der, None, lambda x, p: p, None, {})
    assert not can_compile(rosen, rosen_der, np.eye, None, None, {})
    assert not can_compile(rosen, rosen_der, None, None, print, {})
    assert not can_compile(rosen, rosen_der, None, None, None, {"disp": True})
    assert not can_compile(rosen, rosen_der, None, None, None, {"return_all": True})
    assert not can_compile(rosen, rosen_der, None, None, None, {"compiled": False})
    assert not can_compile(rosen, rosen_der, None, None, None, {}, args=(object(),))


# ---------------------------------------------------------------------------
# On-disk cache across processes
# ---------------------------------------------------------------------------

_CACHE_SCRIPT = textwrap.dedent(
    """
    import time
    import numpy as np
    from numba import njit
    from curvopt.trust_region._compiled import compiled_trust_ncg

    @njit
    def f(x):
        return (x[0] - 1.0) ** 2 + 10.0 * (x[1] - x[0] ** 2) ** 2

    @njit
    def g(x):
        return np.array([2.0 * (x[0] - 1.0) - 40.0 * x[0] * (x[1] - x[0] ** 2), 20.0 * (x[1] - x[0] ** 2)])

    x0 = np.array([-1.0, 2.0])
    f(x0), g(x0)  # compile the user's functions outside the timing
    t = time.perf_counter()
    res = compiled_trust_ncg(f, g, "2-point", x0, ())
    print(time.perf_counter() - t, res.success)
    """
)


def test_loop_is_loaded_from_the_disk_cache_in_a_new_process(tmp_path):
    script = tmp_path / "run_compiled.py"
    script.write_text(_CACHE_SCRIPT)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba_cache"))
    times = []
    for _ in range(2):
        out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        seconds, success = out.stdout.split()
        assert success == "True"
        times.append(float(seconds))
    cold, warm = times
    assert warm < cold / 5, times
    assert warm < 1.0, times
