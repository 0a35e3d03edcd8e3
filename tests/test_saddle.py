"""curvopt.saddle.find_saddle: saddle points of a given order by minimum-mode following.

Every converged point is checked against an explicit Hessian (analytic, autograd, or
central differences of an analytic gradient), never against the solver's own claim.
"""

import doctest

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

from curvopt import Status
from curvopt.saddle import find_saddle, rigid_body_modes
from curvopt.saddle import _find as find_module
from curvopt.saddle._davidson import davidson
from curvopt.saddle._model import HessianModel
from curvopt.saddle._step import prfo_step
from curvopt.testing import potentials
from curvopt.testing.potentials import (
    MB_A,
    MB_X0,
    MB_Y0,
    MB_a,
    MB_b,
    MB_c,
    lennard_jones,
    muller_brown,
    muller_brown_hessian,
)

# --------------------------------------------------------------------------- Müller-Brown
def muller_brown_autograd(p):
    dx, dy = p[0] - MB_X0, p[1] - MB_Y0
    return anp.sum(MB_A * anp.exp(MB_a * dx**2 + MB_b * dx * dy + MB_c * dy**2))


# --------------------------------------------------------------------------- Lennard-Jones
def lj_gradient(x):
    return lennard_jones(x)[1]


def central_hessian(grad, x, h=1e-5):
    n = x.size
    H = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        H[:, i] = (grad(x + e) - grad(x - e)) / (2 * h)
    return 0.5 * (H + H.T)


def internal_eigenvalues(H, x):
    """Eigenvalues of H on the complement of the rigid-body modes at x."""
    D = rigid_body_modes(x)
    Q = np.linalg.qr(np.hstack([D, np.eye(x.size)]))[0][:, D.shape[1]:]
    return np.linalg.eigvalsh(Q.T @ H @ Q)


@pytest.fixture(scope="module")
def lj7_minimum():
    """The pentagonal bipyramid, relaxed with scipy's L-BFGS-B to gtol 1e-8."""
    x = potentials.lj7_minimum()
    assert abs(lennard_jones(x)[0] - (-16.505384)) < 1e-5  # the LJ7 global minimum
    return x


LJ_OPTIONS = dict(deflate="rigid-body", trust_norm="atoms")


# --------------------------------------------------------------------------- Müller-Brown
@pytest.mark.parametrize("start, saddle", [((-0.70, 0.60), (-0.82200, 0.62431)), ((0.15, 0.35), (0.21249, 0.29299))])
def test_muller_brown_saddles(start, saddle):
    res = find_saddle(muller_brown, start, jac=True)
    assert res.success, res.message
    assert res.status == Status.SUCCESS
    np.testing.assert_allclose(res.x, saddle, atol=2e-5)
    assert np.max(np.abs(muller_brown(res.x)[1])) <= 1e-4
    exact = np.linalg.eigvalsh(muller_brown_hessian(res.x))
    assert exact[0] < 0 < exact[1]  # the explicit Hessian says: order 1
    assert res.order_found == 1
    np.testing.assert_allclose(res.eigenvalues[0], exact[0], rtol=1e-2)
    v = res.eigenvectors[:, 0]
    w = np.linalg.eigh(muller_brown_hessian(res.x))[1][:, 0]
    assert abs(v @ w) > 0.999
    # Sella needs 10 and 9 gradient calls here (fmax 1e-3); a regression guard with a little room
    assert res.njev <= 11
    assert res.nhev == res.n_hvp >= 2


def test_muller_brown_with_autograd_hessian_check_and_exact_products():
    """jac=None resolves to autograd; products are then exact and cost no gradient call."""
    res = find_saddle(muller_brown_autograd, np.array([-0.70, 0.60]))
    assert res.success
    H = autograd.hessian(muller_brown_autograd)(res.x)
    eigs = np.linalg.eigvalsh(H)
    assert np.count_nonzero(eigs < 0) == 1 == res.order_found
    assert res.njev == res.nit + 1  # one gradient per step, none in products
    assert res.n_hvp > 0


def test_njev_counts_every_gradient_call(counted):
    f = counted(lambda p: muller_brown(p)[0])
    g = counted(lambda p: muller_brown(p)[1])
    res = find_saddle(f, [0.15, 0.35], jac=g)
    assert res.success
    assert res.njev == g.calls  # products' gradient calls included
    assert res.nfev == f.calls
    assert res.n_hvp > 0 and res.njev >= res.nit + res.n_hvp


def test_central_difference_products():
    res = find_saddle(muller_brown, [-0.70, 0.60], jac=True, hessp="3-point")
    assert res.success
    assert res.njev >= res.nit + 2 * res.n_hvp  # two gradient calls per product


def test_user_hessp():
    res = find_saddle(muller_brown, [0.15, 0.35], jac=True, hessp=lambda x, p: muller_brown_hessian(x) @ p)
    assert res.success and res.order_found == 1
    assert res.njev == res.nit + 1


# --------------------------------------------------------------------------- Lennard-Jones
def test_lj7_reference_start(lj7_minimum):
    x0 = lj7_minimum + np.random.default_rng(0).normal(0, 0.1, lj7_minimum.shape)
    res = find_saddle(lennard_jones, x0, jac=True, options=LJ_OPTIONS)
    assert res.success, res.message
    assert np.max(np.abs(res.jac)) <= 1e-4
    H = central_hessian(lj_gradient, res.x)
    internal = internal_eigenvalues(H, res.x)
    assert np.count_nonzero(internal < 0) == 1  # exactly one negative after projecting the six rigid modes
    full = np.linalg.eigvalsh(H)
    assert np.count_nonzero(np.abs(full) < 1e-4 * np.max(np.abs(full))) == 6  # the rigid-body zero modes
    assert res.order_found == 1
    np.testing.assert_allclose(res.eigenvalues[0], internal[0], rtol=2e-2)
    assert res.fun > -16.505384  # above the minimum it started next to
    assert res.njev <= 52  # 48 here; Sella: 59 calls from this start (fmax 1e-4), ASE's dimer ~640


def atom_fmax(g):
    return float(np.max(np.linalg.norm(g.reshape(-1, 3), axis=1)))


def test_measure_stops_at_the_users_test(lj7_minimum):
    """With ASE's per-atom measure, the run stops once that measure (not the largest
    component) is below gtol -- and still at an order-1 saddle by the explicit Hessian."""
    x0 = lj7_minimum + np.random.default_rng(0).normal(0, 0.1, lj7_minimum.shape)
    seen = []

    def callback(intermediate_result):
        seen.append(atom_fmax(intermediate_result.jac))

    res = find_saddle(lennard_jones, x0, jac=True,
                      options=dict(LJ_OPTIONS, gtol=1e-3, measure=atom_fmax, callback=callback))
    assert res.success, res.message
    assert atom_fmax(res.jac) <= 1e-3 < min(seen[:-1])  # stops at the first point that passes
    internal = internal_eigenvalues(central_hessian(lj_gradient, res.x), res.x)
    assert np.count_nonzero(internal < 0) == 1 == res.order_found
    # the component test at gtol = fmax / sqrt(3) is at least as strict: never fewer calls
    strict = find_saddle(lennard_jones, x0, jac=True, options=dict(LJ_OPTIONS, gtol=1e-3 / np.sqrt(3)))
    assert strict.success and strict.njev >= res.njev


def test_bad_measure():
    with pytest.raises(ValueError, match="measure"):
        find_saddle(muller_brown, [0.0, 0.0], jac=True, options=dict(measure="fmax"))
    with pytest.raises(ValueError, match="measure"):
        find_saddle(muller_brown, [-0.70, 0.60], jac=True, options=dict(measure=lambda g: "small"))


def test_order_check_reuses_short_steps_and_stays_right():
    """Near convergence the last steps are shorter than the finite-difference step; their
    secant pairs are products at the final point, and on Müller-Brown (n = 2) they settle
    the check with no new gradient call.  The values must still be the Hessian's."""
    res = find_saddle(muller_brown, [-0.70, 0.60], jac=True, options=dict(gtol=1e-3, measure=np.linalg.norm))
    assert res.success and res.eigen_source.startswith("products")
    exact, vectors = np.linalg.eigh(muller_brown_hessian(res.x))
    assert exact[0] < 0 < exact[1] and res.order_found == 1
    np.testing.assert_allclose(res.eigenvalues, exact, rtol=2e-2)
    assert abs(res.eigenvectors[:, 0] @ vectors[:, 0]) > 0.999
    assert res.n_hvp == 2  # the first eigensolve's two products only
    assert res.njev == res.nit + 1 + res.n_hvp


@pytest.mark.parametrize("seed", [3, 7])
def test_lj7_other_starts(lj7_minimum, seed):
    x0 = lj7_minimum + np.random.default_rng(seed).normal(0, 0.1, lj7_minimum.shape)
    res = find_saddle(lennard_jones, x0, jac=True, options=dict(LJ_OPTIONS, final_check="lanczos"))
    assert res.success, res.message
    internal = internal_eigenvalues(central_hessian(lj_gradient, res.x), res.x)
    assert np.count_nonzero(internal < 0) == 1


def test_lj7_without_deflation_counts_rigid_modes_as_zero(lj7_minimum):
    """Without `deflate`, the six zero modes must not be counted as negative."""
    x0 = lj7_minimum + np.random.default_rng(0).normal(0, 0.1, lj7_minimum.shape)
    res = find_saddle(lennard_jones, x0, jac=True, options=dict(trust_norm="atoms", maxiter=300))
    if res.success:
        internal = internal_eigenvalues(central_hessian(lj_gradient, res.x), res.x)
        assert np.count_nonzero(internal < 0) == 1
    else:  # an honest failure is allowed, a false success is not
        assert res.status != Status.SUCCESS


def test_rigid_body_modes():
    x = np.random.default_rng(1).normal(size=12)
    D = rigid_body_modes(x)
    assert D.shape == (12, 6)
    np.testing.assert_allclose(D.T @ D, np.eye(6), atol=1e-12)
    e, g = lennard_jones(x)
    np.testing.assert_allclose(D.T @ g, 0.0, atol=1e-8 * np.linalg.norm(g))  # invariance
    linear = np.array([[0, 0, 0], [0, 0, 1.0], [0, 0, 2.5]]).reshape(-1)
    assert rigid_body_modes(linear).shape == (9, 5)
    with pytest.raises(ValueError, match="3-D"):
        rigid_body_modes(np.ones(4))


# --------------------------------------------------------------------------- other orders
def quartic(x):
    """(x^2 - 1)^2 + (y^2 - 1)^2 + z^2 (1 + x^2): minima at (+-1, +-1, 0), order-1 saddles
    at (0, +-1, 0) and (+-1, 0, 0), an order-2 saddle at the origin."""
    return (x[0] ** 2 - 1) ** 2 + (x[1] ** 2 - 1) ** 2 + x[2] ** 2 * (1 + x[0] ** 2)


QUARTIC_HESSIAN = autograd.hessian(quartic)


@pytest.mark.parametrize("order, start, target", [
    (2, (0.3, -0.25, 0.2), (0.0, 0.0, 0.0)),
    (1, (0.25, 0.8, -0.3), (0.0, 1.0, 0.0)),
    (0, (0.7, 0.8, 0.3), (1.0, 1.0, 0.0)),
])
def test_quartic_every_order(order, start, target):
    res = find_saddle(quartic, np.array(start), jac=autograd.grad(quartic), order=order)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, target, atol=1e-4)
    eigs = np.linalg.eigvalsh(QUARTIC_HESSIAN(res.x))
    assert np.count_nonzero(eigs < 0) == order == res.order_found
    assert res.eigenvalues.shape == (order + 1,) and res.eigenvectors.shape == (3, order + 1)


def test_order_zero_is_a_minimizer():
    from scipy.optimize import rosen, rosen_der

    res = find_saddle(rosen, np.array([-1.2, 1.0, 0.8]), jac=rosen_der, order=0)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, 1.0, atol=1e-4)
    assert res.order_found == 0 and res.eigenvalues[0] > 0
    assert res.n_eigensolves == 1  # only the final check: a minimization needs no mode


def test_stationary_start_of_the_wrong_order_is_left():
    """Started exactly at a minimum, a saddle search must leave it (along the softest mode)."""
    res = find_saddle(quartic, np.array([1.0, 1.0, 0.0]), jac=autograd.grad(quartic), order=1)
    assert res.success, res.message
    eigs = np.linalg.eigvalsh(QUARTIC_HESSIAN(res.x))
    assert np.count_nonzero(eigs < 0) == 1
    assert np.linalg.norm(res.jac) < 1e-4


def test_wrong_order_is_reported_not_claimed():
    """With no kicks allowed, a start at a minimum ends with status 10 and order_found 0."""
    res = find_saddle(quartic, np.array([1.0, 1.0, 0.0]), jac=autograd.grad(quartic), order=1,
                      options=dict(max_kicks=0))
    assert not res.success
    assert res.status == Status.SADDLE_POINT
    assert res.order_found == 0
    assert "0 negative eigenvalue" in res.message


# --------------------------------------------------------------------------- run control
def test_budget_and_maxiter():
    res = find_saddle(muller_brown, [-0.70, 0.60], jac=True, options=dict(max_grad_calls=5))
    assert res.status == Status.EVAL_BUDGET and not res.success
    assert res.njev <= 5 and np.all(np.isfinite(res.x))
    res = find_saddle(muller_brown, [-0.70, 0.60], jac=True, options=dict(maxiter=2))
    assert res.status == Status.MAXITER and res.nit == 2
    assert res.eigen_source == "model" and res.eigenvalues.shape == (2,)


def test_initial_model_hessian():
    """A good `hess0` preconditions the first eigensolve: fewer products than a cold start."""
    cold = find_saddle(muller_brown, [-0.70, 0.60], jac=True)
    warm = find_saddle(muller_brown, [-0.70, 0.60], jac=True, options=dict(hess0=muller_brown_hessian([-0.70, 0.60])))
    assert warm.success and warm.n_hvp <= cold.n_hvp
    np.testing.assert_allclose(warm.x, cold.x, atol=1e-5)


def test_callback_can_stop_the_run():
    seen = []

    def callback(intermediate_result):
        seen.append(intermediate_result.nit)
        if intermediate_result.nit == 3:
            raise StopIteration

    res = find_saddle(muller_brown, [-0.70, 0.60], jac=True, options=dict(callback=callback))
    assert res.status == Status.CALLBACK and seen == [1, 2, 3]


def test_disp_prints_a_table(capsys):
    find_saddle(muller_brown, [0.15, 0.35], jac=True, options=dict(disp=True))
    out = capsys.readouterr().out
    assert "lambda_1" in out and "Converged" in out


@pytest.mark.parametrize("update", ["ts-bfgs", "psb", "bofill"])
def test_updates_all_converge(update):
    res = find_saddle(muller_brown, [-0.70, 0.60], jac=True, options=dict(update=update))
    assert res.success


def test_docstring_example():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(find_module.find_saddle, "find_saddle", globs={}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("order, match", [(-1, "order"), (2, "order"), (1.5, "order"), (True, "order")])
def test_bad_order(order, match):
    with pytest.raises(ValueError, match=match):
        find_saddle(muller_brown, [0.0, 0.0], jac=True, order=order)


def test_order_must_leave_room_after_deflation():
    dimer = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.1])  # 2 atoms: 6 - 5 rigid modes = 1 free direction
    with pytest.raises(ValueError, match="deflated"):
        find_saddle(lennard_jones, dimer, jac=True, order=1, options=dict(deflate="rigid-body"))
    res = find_saddle(lennard_jones, dimer, jac=True, order=0, options=dict(deflate="rigid-body"))
    assert res.success and abs(np.linalg.norm(res.x[3:] - res.x[:3]) - 2 ** (1 / 6)) < 1e-5


@pytest.mark.parametrize("x0, match", [([np.nan, 0.0], "x0"), ([[0.0, 1.0]], "x0"), ([], "x0"), ("ab", "x0")])
def test_bad_x0(x0, match):
    with pytest.raises(ValueError, match=match):
        find_saddle(muller_brown, x0, jac=True)


@pytest.mark.parametrize("options, match", [
    (dict(gtl=1e-3), "unknown option"),
    (dict(gtol=-1.0), "gtol"),
    (dict(trust_norm="inf"), "trust_norm"),
    (dict(trust_norm="atoms"), "divisible by 3"),
    (dict(update="bfgs"), "update"),
    (dict(final_check="none"), "final_check"),
    (dict(deflate=np.ones((3, 1))), "deflate"),
    (dict(deflate="rigid-body"), "divisible by 3"),
    (dict(hess0=np.eye(3)), "hess0"),
    (dict(maxiter=-1), "maxiter"),
    (dict(initial_trust_radius=0.0), "initial_trust_radius"),
])
def test_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        find_saddle(muller_brown, [0.0, 0.0], jac=True, options=options)


def test_bad_callables():
    with pytest.raises(TypeError, match="fun"):
        find_saddle(None, [0.0, 0.0], jac=True)
    with pytest.raises(ValueError, match="hessp"):
        find_saddle(muller_brown, [0.0, 0.0], jac=True, hessp="4-point")


# --------------------------------------------------------------------------- the pieces
def test_model_update_matches_secant_block_and_stays_indefinite():
    rng = np.random.default_rng(3)
    H = np.diag([-2.0, 1.0, 3.0, 5.0, 8.0])
    for rule in ("ts-bfgs", "psb"):
        model = HessianModel(5, rule)
        S = np.linalg.qr(rng.normal(size=(5, 3)))[0]
        model.update(S, H @ S)
        np.testing.assert_allclose(model.B @ S, H @ S, atol=1e-10)
        np.testing.assert_allclose(model.B, model.B.T)
        s = rng.normal(size=5)
        model.update(s[:, None], (H @ s)[:, None])
        np.testing.assert_allclose(model.B @ s, H @ s, atol=1e-9)
    model = HessianModel(5)
    model.update(np.eye(5), H)
    np.testing.assert_allclose(model.B, H, atol=1e-10)  # a full basis gives the Hessian itself
    assert np.linalg.eigvalsh(model.B)[0] < 0


def test_davidson_with_exact_model_converges_in_one_product():
    rng = np.random.default_rng(4)
    Q = np.linalg.qr(rng.normal(size=(30, 30)))[0]
    H = Q @ np.diag(np.linspace(-3.0, 40.0, 30)) @ Q.T
    lam, V = np.linalg.eigh(H + 0.01 * np.diag(rng.normal(size=30)))
    count = [0]

    def apply(v):
        count[0] += 1
        return H @ v

    res = davidson(apply, V[:, :1], 1, 1e-3, model=(lam, V))
    assert res.converged and count[0] <= 3
    np.testing.assert_allclose(res.theta[0], -3.0, rtol=1e-4)
    count[0] = 0
    res = davidson(apply, rng.normal(size=(30, 1)), 1, 1e-6)  # no model: Lanczos
    assert res.converged and count[0] < 30


def test_davidson_known_pairs_and_early_stop():
    """Pairs already at hand cost nothing; `enough` ends the solve as soon as it holds."""
    rng = np.random.default_rng(5)
    Q = np.linalg.qr(rng.normal(size=(20, 20)))[0]
    H = Q @ np.diag(np.linspace(-2.0, 30.0, 20)) @ Q.T
    count = [0]

    def apply(v):
        count[0] += 1
        return H @ v

    S = np.linalg.qr(np.column_stack([Q[:, 0] + 0.05 * Q[:, 5], Q[:, 3]]))[0]
    res = davidson(apply, rng.normal(size=(20, 1)), 1, 1e-8, known=(S, H @ S),
                   enough=lambda theta, residuals: theta[0] < 0.0)
    assert count[0] == 0 and res.converged and res.n_products == 0
    assert -2.0 <= res.theta[0] < 0.0  # a Ritz value: an upper bound of the lowest eigenvalue
    res = davidson(apply, rng.normal(size=(20, 1)), 1, 1e-8, known=(S, H @ S))
    assert res.converged and count[0] == res.n_products > 0
    np.testing.assert_allclose(res.theta[0], -2.0, rtol=1e-8)


def test_model_starts_at_the_geometric_mean_scale():
    model = HessianModel(3)
    model.update(np.eye(3)[:, :2], np.diag([-1.0, 100.0, 7.0])[:, :2])
    np.testing.assert_allclose(model.B[2, 2], 10.0)  # sqrt(|-1| * 100): the unexplored direction
    np.testing.assert_allclose(model.B[:2, :2], np.diag([-1.0, 100.0]), atol=1e-10)


def test_prfo_step_climbs_the_lowest_modes_and_respects_the_radius():
    lam = np.array([-2.0, 1.0, 4.0])
    V = np.eye(3)
    g = np.array([0.5, 0.5, -0.5])
    s, predicted, predicted_image, restricted = prfo_step(lam, V, g, 1, radius=10.0)
    assert not restricted
    assert s[0] * g[0] > 0 and s[1] * g[1] < 0 and s[2] * g[2] < 0  # up along mode 0, down along the rest
    assert predicted_image < 0
    s, *_, restricted = prfo_step(lam, V, 100 * g, 1, radius=0.1)
    assert restricted and abs(np.linalg.norm(s) - 0.1) < 1e-8
    s, *_ = prfo_step(lam, V, g, 2, radius=10.0)
    assert s[0] * g[0] > 0 and s[1] * g[1] > 0 and s[2] * g[2] < 0
