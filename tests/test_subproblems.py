"""Trust-region subproblem solvers against the exact solution from numpy.linalg.eigh."""

import numpy as np
import pytest

from curvopt.trust_region import lanczos, steihaug
from curvopt.trust_region.steihaug import StopReason


def exact_subproblem(H, g, radius):
    """Global minimizer of g'p + p'Hp/2 on ||p|| <= radius, by eigendecomposition and bisection."""
    mu, V = np.linalg.eigh(H)
    c = V.T @ g
    if mu[0] > 0 and np.linalg.norm(c / mu) <= radius:
        return -V @ (c / mu)
    lo = max(0.0, -mu[0])
    hi = lo + np.linalg.norm(g) / radius + 1.0
    for _ in range(300):
        lam = 0.5 * (lo + hi)
        norm = np.linalg.norm(c / (mu + lam))
        lo, hi = (lam, hi) if norm > radius else (lo, lam)
    return -V @ (c / (mu + hi))


def model(H, g, p):
    return g @ p + 0.5 * p @ H @ p


def random_problem(rng, n, shift):
    A = rng.standard_normal((n, n))
    return (A + A.T) / 2 + shift * np.eye(n), rng.standard_normal(n)


@pytest.mark.parametrize("shift", [-4.0, 0.0, 8.0, 30.0])
def test_gltr_solves_the_subproblem_exactly(rng, shift):
    for _ in range(20):
        H, g = random_problem(rng, 25, shift)
        radius = rng.uniform(0.05, 3.0)
        res = lanczos.solve(g, lambda v: H @ v, radius, 1e-12 * np.linalg.norm(g), 200)
        p_star = exact_subproblem(H, g, radius)
        assert np.linalg.norm(res.step) <= radius * (1 + 1e-10)
        assert model(H, g, res.step) == pytest.approx(model(H, g, p_star), rel=1e-7, abs=1e-10)
        assert res.predicted_reduction == pytest.approx(-model(H, g, res.step), rel=1e-9)
        assert res.n_products <= 25


@pytest.mark.parametrize("shift", [-4.0, 0.0, 8.0, 30.0])
def test_steihaug_decreases_the_model_and_respects_the_radius(rng, shift):
    for _ in range(20):
        H, g = random_problem(rng, 25, shift)
        radius = rng.uniform(0.05, 3.0)
        res = steihaug.solve(g, lambda v: H @ v, radius, 1e-12 * np.linalg.norm(g), 200)
        assert np.linalg.norm(res.step) <= radius * (1 + 1e-10)
        assert res.predicted_reduction == pytest.approx(-model(H, g, res.step), rel=1e-9)
        # at least the Cauchy decrease (Nocedal & Wright, Lemma 4.3 / Theorem 4.5)
        gHg = g @ H @ g
        gnorm = np.linalg.norm(g)
        tau = 1.0 if gHg <= 0 else min(gnorm**3 / (radius * gHg), 1.0)
        cauchy = -tau * radius / gnorm * g
        assert model(H, g, res.step) <= model(H, g, cauchy) + 1e-12
        if res.reason == StopReason.CONVERGED:  # interior Newton step
            np.testing.assert_allclose(H @ res.step, -g, atol=1e-8 * np.linalg.norm(g))


def test_steihaug_interior_is_newton_step(rng):
    H, g = random_problem(rng, 10, 20.0)
    res = steihaug.solve(g, lambda v: H @ v, 1e6, 1e-13, 100)
    assert res.reason == StopReason.CONVERGED and not res.hits_boundary
    np.testing.assert_allclose(res.step, np.linalg.solve(H, -g), rtol=1e-9)


def test_negative_curvature_goes_to_the_boundary():
    H = np.diag([-1.0, 2.0])
    g = np.array([1.0, 0.1])  # g'Hg < 0: the very first direction has negative curvature
    for solver in (steihaug.solve, lanczos.solve):
        res = solver(g, lambda v: H @ v, 2.0, 1e-10, 10)
        assert res.hits_boundary and res.curvature < 0
        assert np.linalg.norm(res.step) == pytest.approx(2.0)
    assert lanczos.solve(g, lambda v: H @ v, 2.0, 1e-10, 10).reason == StopReason.NEGATIVE_CURVATURE


def test_tridiagonal_hard_case():
    # T block diagonal, the gradient (e_1) with no component on the block of the least
    # eigenvalue: no root of the secular equation above -mu_min, the step fills the
    # boundary along the least eigenvector.
    alpha, beta, gnorm, radius = np.array([1.0, -2.0]), np.array([0.0]), 1.0, 2.0
    h, lam, mu_min = lanczos.solve_tridiagonal(alpha, beta, gnorm, radius)
    T = np.diag(alpha)
    theta = np.linspace(0, 2 * np.pi, 200_001)  # indefinite T: the minimizer is on the circle
    p_star = min((radius * np.array([np.cos(t), np.sin(t)]) for t in theta[::1000]),
                 key=lambda p: model(T, np.array([gnorm, 0.0]), p))
    assert mu_min == -2.0 and lam == pytest.approx(2.0)
    assert np.linalg.norm(h) == pytest.approx(radius)
    assert h[0] == pytest.approx(-gnorm / 3.0)
    assert model(T, np.array([gnorm, 0.0]), h) <= model(T, np.array([gnorm, 0.0]), p_star) + 1e-8


def test_tridiagonal_solver_meets_kkt(rng):
    for _ in range(200):
        k = int(rng.integers(1, 9))
        alpha, beta = 3 * rng.standard_normal(k), rng.standard_normal(k - 1)
        gnorm, radius = rng.uniform(0.1, 3), rng.uniform(0.05, 3)
        h, lam, mu_min = lanczos.solve_tridiagonal(alpha, beta, gnorm, radius)
        T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
        e1 = np.zeros(k)
        e1[0] = gnorm
        assert lam >= 0 and np.linalg.norm(h) <= radius * (1 + 1e-9)
        assert np.linalg.eigvalsh(T + lam * np.eye(k)).min() >= -1e-9  # second-order condition
        np.testing.assert_allclose((T + lam * np.eye(k)) @ h, -e1, atol=1e-8)
        assert lam == 0 or np.linalg.norm(h) == pytest.approx(radius, rel=1e-8)
