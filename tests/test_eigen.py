"""Tests of curvopt.eigen against independent references (numpy.linalg.eigh, np.trace, analytic spectra)."""

import math

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from curvopt.eigen import (
    EigenResult,
    SpectralDensity,
    TraceResult,
    eigenmodes,
    hessian_trace,
    inverse_iteration,
    power_iteration,
    spectral_density,
)
from curvopt.saddle import rigid_body_modes
from curvopt.testing.potentials import lennard_jones

# ----------------------------------------------------------------------------- helpers


def with_spectrum(d, seed):
    """Q diag(d) Q^T for a random orthogonal Q (symmetrised)."""
    d = np.asarray(d, dtype=float)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d.size, d.size)))
    A = (Q * d) @ Q.T
    return 0.5 * (A + A.T)


class CountingOperator(sla.LinearOperator):
    """An independent count of the products a solver asks for (and of the calls it makes)."""

    def __init__(self, A):
        super().__init__(dtype=np.float64, shape=A.shape)
        self.A = A
        self.products = 0
        self.matvec_calls = 0
        self.matmat_calls = 0
        self.block_widths = []

    def _matvec(self, x):
        self.products += 1
        self.matvec_calls += 1
        return self.A @ np.ravel(x)

    def _matmat(self, X):
        self.products += X.shape[1]
        self.matmat_calls += 1
        self.block_widths.append(X.shape[1])
        return self.A @ X


def residuals(A, res):
    X, lam = res.eigenvectors, res.eigenvalues
    return np.linalg.norm(A @ X - X * lam, axis=0)


def check_pairs(A, res, ref, tol_scale):
    """Returned pairs against eigh's, with bounds that follow from the residuals alone."""
    X = res.eigenvectors
    assert X.shape == (A.shape[0], ref.size)
    assert np.all(np.diff(res.eigenvalues) >= 0)
    np.testing.assert_allclose(X.T @ X, np.eye(ref.size), atol=1e-10)
    true_res = residuals(A, res)
    # the reported residual norms are the true ones
    np.testing.assert_allclose(res.residual_norms, true_res, rtol=1e-6, atol=1e-12 * tol_scale)
    # Kahan: k eigenvalues lie within ||R||_2 <= ||R||_F of the Ritz values
    bound = np.linalg.norm(true_res) + 1e-12 * tol_scale
    assert np.max(np.abs(res.eigenvalues - ref)) <= bound


def projector_distance(X, Y):
    return np.linalg.norm(X @ X.T - Y @ Y.T, 2)


# ----------------------------------------------------------------------------- eigenmodes


@pytest.mark.parametrize("which", ["smallest", "largest", "both"])
@pytest.mark.parametrize("tol", [1e-3, 1e-8])
def test_eigenmodes_which_vs_eigh(which, tol):
    rng = np.random.default_rng(3)
    d = np.sort(np.concatenate([rng.uniform(-5, 40, 146), [-9.0, -7.5, 55.0, 61.0]]))
    A = with_spectrum(d, 1)
    k = 4
    res = eigenmodes(A, k=k, which=which, tol=tol, rng=0)
    assert isinstance(res, EigenResult)
    assert res.converged, res.message
    w = np.linalg.eigvalsh(A)
    ref = {"smallest": w[:k], "largest": w[-k:], "both": np.concatenate([w[:k], w[-k:]])}[which]
    check_pairs(A, res, ref, np.abs(w).max())
    # the stopping test, with scale an estimate of ||H|| (never above it)
    assert res.scale <= np.abs(w).max() * (1 + 1e-12)
    assert np.all(res.residual_norms <= tol * np.maximum(np.abs(res.eigenvalues), res.scale))


def test_eigenmodes_scale_zero_is_eigsh_relative_test():
    d = np.concatenate([[0.01, 0.02, 0.5], np.linspace(1, 1000, 197)])
    A = with_spectrum(d, 2)
    res = eigenmodes(A, k=3, tol=1e-6, scale=0.0, rng=1)
    assert res.converged
    assert np.all(res.residual_norms <= 1e-6 * np.abs(res.eigenvalues))
    np.testing.assert_allclose(res.eigenvalues, d[:3], rtol=1e-9)
    # the default test, relative to ||H||, is looser for these small eigenvalues
    loose = eigenmodes(A, k=3, tol=1e-6, rng=1)
    assert loose.converged and loose.n_products <= res.n_products


@pytest.mark.parametrize("tol", [1e-3, 1e-6])
@pytest.mark.parametrize(
    "lowest, k",
    [([1.0] * 5, 6), ([1.0] * 5, 5), ([-3.0] * 3, 6), ([0.5] * 3 + [0.7] * 3, 6), ([1.0, 2.0, 3.0] + [4.0] * 4, 6)],
    ids=["5fold-k6", "5fold-k5", "3fold-negative", "two-3fold", "4fold-straddles-k"],
)
def test_eigenmodes_finds_every_copy_of_degenerate_eigenvalues(lowest, k, tol):
    n = 160
    d = np.concatenate([lowest, np.linspace(5.0, 100.0, n - len(lowest))])
    A = with_spectrum(d, 7)
    w, U = np.linalg.eigh(A)
    res = eigenmodes(A, k=k, tol=tol, rng=11)
    assert res.converged, res.message
    check_pairs(A, res, w[:k], 100.0)
    # every copy is there, and the vectors of each cluster lie in its eigenspace
    for v in w[:k][np.concatenate([[True], np.diff(w[:k]) > 1e-6])]:
        mine = np.abs(res.eigenvalues - v) < 0.05
        assert mine.sum() == np.sum(np.abs(w[:k] - v) < 1e-9)
        U_v = U[:, np.abs(w - v) < 1e-9]
        X = res.eigenvectors[:, mine]
        gap = 0.2  # the smallest distance between different eigenvalues here
        bound = 2 * np.linalg.norm(res.residual_norms[mine]) / gap + 1e-9
        assert np.linalg.norm(X - U_v @ (U_v.T @ X), 2) <= bound


def test_eigenmodes_degenerate_largest_and_both():
    d = np.concatenate([[-4.0] * 3, np.linspace(-2, 2, 140), [6.0] * 4])
    A = with_spectrum(d, 5)
    w = np.linalg.eigvalsh(A)
    res = eigenmodes(A, k=4, which="largest", tol=1e-6, rng=2)
    np.testing.assert_allclose(res.eigenvalues, w[-4:], atol=1e-8)
    res = eigenmodes(A, k=3, which="both", tol=1e-6, rng=2)
    assert res.eigenvalues.shape == (6,)
    np.testing.assert_allclose(res.eigenvalues, np.concatenate([w[:3], w[-3:]]), atol=1e-8)


@pytest.mark.parametrize("tol", [1e-3, 1e-6])
@pytest.mark.parametrize("lowest", [[1.0] * 5, [1.0] * 4 + [1.5] * 3], ids=["5fold", "4fold-3fold"])
def test_eigenmodes_probe_deflating_ritz_vectors_keeps_every_copy(lowest, tol, monkeypatch):
    """The probe also deflates Ritz vectors (unconverged ones too) whose share of a missed eigenvector is
    bounded; a missed copy must still be found (and those vectors returned to the basis)."""
    from curvopt.eigen import lanczos

    seen = {"deflated": 0, "unlocked": 0}
    safe_deflation, unlock = lanczos._safe_deflation, lanczos._KrylovSchur.unlock

    def spy_deflation(*args, **kwargs):
        out = safe_deflation(*args, **kwargs)
        seen["deflated"] += out[0].size
        return out

    def spy_unlock(self, m):
        seen["unlocked"] += m
        return unlock(self, m)

    monkeypatch.setattr(lanczos, "_safe_deflation", spy_deflation)
    monkeypatch.setattr(lanczos._KrylovSchur, "unlock", spy_unlock)
    d = np.concatenate([lowest, np.linspace(4.0, 60.0, 60 - len(lowest))])
    A = with_spectrum(d, 3)
    w, U = np.linalg.eigh(A)
    res = eigenmodes(A, k=6, tol=tol, rng=1)
    assert res.converged, res.message
    assert seen["deflated"] > 0 and seen["unlocked"] > 0  # the path under test ran
    check_pairs(A, res, w[:6], 60.0)
    for v in np.unique(lowest):
        assert np.sum(np.abs(res.eigenvalues - v) < 0.1) == min(np.sum(np.abs(w[:6] - v) < 1e-9), 6)


def _lanczos_basis(A, v0, m):
    """m steps of textbook Lanczos with full reorthogonalization: basis Q, tridiagonal T, residual."""
    Q = np.zeros((A.shape[0], m))
    q = v0 / np.linalg.norm(v0)
    for i in range(m):
        Q[:, i] = q
        r = A @ q
        for _ in range(2):
            r -= Q[:, : i + 1] @ (Q[:, : i + 1].T @ r)
        q = r / np.linalg.norm(r)
    return Q, Q.T @ A @ Q, r


def test_safe_deflation_keeps_a_missed_eigenvalue_beyond_the_probe_threshold():
    """Deflating the chosen Ritz vectors leaves the compressed operator an eigenvalue beyond the
    probe's threshold whenever H has one (orthogonal to the basis) beyond the certified one."""
    from curvopt.eigen.lanczos import _safe_deflation

    n = 120
    d = np.concatenate([[1.0, 1.0], np.linspace(2.0, 40.0, n - 2)])
    A = with_spectrum(d, 4)
    w, U = np.linalg.eigh(A)
    y = U[:, 0]  # the copy that the Krylov space from v0 misses
    v0 = np.random.default_rng(0).standard_normal(n)
    v0 -= y * (y @ v0)
    Q, T, r = _lanczos_basis(A, v0, 40)
    theta, S = np.linalg.eigh(T)
    X = Q @ S
    res = np.linalg.norm(A @ X - X * theta, axis=0)
    assert abs(theta[0] - 1.0) < 1e-8 and theta[1] > 1.5  # one copy found, the other missed
    tau = 1e-3 * np.abs(theta)
    x_cert, x_find, x_tie = (1.4, None), (theta[5] - tau[5], None), (theta[5] + tau[5], None)
    candidates = np.arange(theta.size) >= 6
    chosen, x_probe = _safe_deflation(theta, res, candidates, x_cert, x_find, x_tie)
    assert chosen.size > 0 and np.all(chosen >= 6)
    assert x_cert[0] <= x_probe[0] <= x_find[0]
    # the compressed operator on the complement of the locked (first six) and chosen vectors
    B = np.column_stack([X[:, :6], X[:, chosen]])
    C = np.linalg.qr(B, mode="complete")[0][:, B.shape[1] :]
    assert np.linalg.eigvalsh(C.T @ A @ C)[0] <= x_probe[0]


@pytest.mark.parametrize("seed", [25, 51, 254, 363, 461, 467, 670])
def test_eigenmodes_locked_pairs_meet_the_test_with_true_residuals(seed):
    """Clustered spectra at loose tolerances, where locked vectors couple to later wanted pairs
    (cases that once ended with a pair just above its tolerance)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 200))
    nclus = int(rng.integers(2, 5))
    mult = rng.integers(1, 6, nclus)
    head = np.repeat(np.cumsum(rng.uniform(0.05, 2.0, nclus)), mult)
    spread = rng.choice([10.0, 100.0, 1000.0])
    tail = head[-1] + rng.uniform(0.05, 1.0) + np.sort(rng.uniform(0, spread, n - head.size))
    d = np.concatenate([head, tail])
    which = rng.choice(["smallest", "largest"])
    if which == "largest":
        d = -d
    A = with_spectrum(d, seed)
    k = int(min(head.size + rng.integers(0, 2), 6))
    tol = float(rng.choice([1e-2, 1e-3, 1e-6]))
    scale = rng.choice([None, 0.0])
    res = eigenmodes(A, k=k, which=which, tol=tol, rng=seed + 1000, scale=scale)
    assert res.converged, res.message
    true_res = residuals(A, res)
    rounding = 1e-10 * np.abs(d).max()
    np.testing.assert_allclose(res.residual_norms, true_res, rtol=1e-6, atol=rounding)
    assert np.all(true_res <= tol * np.maximum(np.abs(res.eigenvalues), res.scale) * (1 + 1e-8) + rounding)
    w = np.linalg.eigvalsh(A)
    ref = w[:k] if which == "smallest" else w[-k:]
    # Kahan: the k eigenvalues lie within ||R||_F of the Ritz values
    assert np.max(np.abs(res.eigenvalues - ref)) <= np.linalg.norm(true_res) * (1 + 1e-8) + rounding


def test_eigenmodes_2d_laplacian_degenerate_pairs():
    """The 2-D Dirichlet Laplacian has analytic, pairwise degenerate eigenvalues."""
    m = 20
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m))
    I = sp.identity(m)
    L = (sp.kron(T, I) + sp.kron(I, T)).tocsr()
    mu = 2 - 2 * np.cos(np.arange(1, m + 1) * np.pi / (m + 1))
    exact = np.sort(np.add.outer(mu, mu).ravel())
    res = eigenmodes(L, k=6, tol=1e-8, rng=0)
    assert res.converged
    np.testing.assert_allclose(res.eigenvalues, exact[:6], rtol=1e-10)
    res = eigenmodes(L, k=6, which="largest", tol=1e-8, rng=0)
    np.testing.assert_allclose(res.eigenvalues, exact[-6:], rtol=1e-10)


def test_eigenmodes_near_zero_eigenvalues_converge_with_default_scale():
    d = np.concatenate([[-1e-11, 0.0, 3e-12, 1e-9], np.linspace(0.1, 50, 96)])
    A = with_spectrum(d, 9)
    res = eigenmodes(A, k=4, tol=1e-6, rng=0)
    assert res.converged
    assert np.all(np.abs(res.eigenvalues - d[:4]) < 1e-8)


@pytest.mark.parametrize("which", ["smallest", "largest"])
def test_eigenmodes_deflation_matches_projected_matrix(which):
    n = 90
    rng = np.random.default_rng(4)
    A = with_spectrum(rng.uniform(-3, 3, n), 8)
    D = rng.standard_normal((n, 3))
    Q, _ = np.linalg.qr(D, mode="complete")
    C = Q[:, 3:]  # orthonormal basis of the complement of span(D)
    wc = np.linalg.eigvalsh(C.T @ A @ C)
    res = eigenmodes(A, k=5, which=which, tol=1e-9, deflate=D, rng=1)
    assert res.converged
    ref = wc[:5] if which == "smallest" else wc[-5:]
    np.testing.assert_allclose(res.eigenvalues, ref, atol=1e-7)
    assert np.linalg.norm(D.T @ res.eigenvectors) < 1e-10
    # residuals of the projected operator
    P = np.eye(n) - Q[:, :3] @ Q[:, :3].T
    R = P @ A @ P @ res.eigenvectors - res.eigenvectors * res.eigenvalues
    np.testing.assert_allclose(np.linalg.norm(R, axis=0), res.residual_norms, rtol=1e-5, atol=1e-12)


def test_eigenmodes_rigid_modes_at_zero_deflated():
    """Six exact zero modes (like translations and rotations), projected out; the next ones are found."""
    n = 60
    rng = np.random.default_rng(5)
    d = np.concatenate([np.zeros(6), [0.3, 0.3, 0.3], np.linspace(1, 20, n - 9)])
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * d) @ Q.T
    A = 0.5 * (A + A.T)
    res = eigenmodes(A, k=4, tol=1e-7, deflate=Q[:, :6], rng=0)
    np.testing.assert_allclose(res.eigenvalues, [0.3, 0.3, 0.3, 1.0], atol=1e-9)
    # without deflation the zeros come first
    res0 = eigenmodes(A, k=4, tol=1e-7, rng=0)
    np.testing.assert_allclose(res0.eigenvalues, np.zeros(4), atol=1e-9)


@pytest.mark.parametrize("block_size", [2, 3])
def test_eigenmodes_block_matches_single_and_uses_matmat(block_size):
    d = np.concatenate([[2.0] * 3, np.linspace(3, 60, 117)])
    A = with_spectrum(d, 6)
    w = np.linalg.eigvalsh(A)
    single = eigenmodes(A, k=5, tol=1e-8, rng=0)
    op = CountingOperator(A)
    block = eigenmodes(op, k=5, tol=1e-8, block_size=block_size, rng=0)
    np.testing.assert_allclose(single.eigenvalues, w[:5], atol=1e-7)
    np.testing.assert_allclose(block.eigenvalues, w[:5], atol=1e-7)
    assert block.n_products == op.products
    assert op.matvec_calls == 0
    assert op.matmat_calls > 0 and max(op.block_widths) <= block_size
    assert sum(op.block_widths) == block.n_products


@pytest.mark.parametrize("check", [True, False, 0.05])
def test_eigenmodes_counts_products(check):
    A = with_spectrum(np.linspace(1, 10, 80), 1)
    op = CountingOperator(A)
    res = eigenmodes(op, k=3, tol=1e-6, rng=0, check_degeneracy=check)
    assert res.n_products == op.products
    assert res.converged


def test_eigenmodes_accepts_sparse_and_v0():
    L = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(200, 200)).tocsc()
    exact = 2 - 2 * np.cos(np.arange(1, 4) * np.pi / 201)
    v0 = np.ones(200)
    res = eigenmodes(L, k=3, tol=1e-10, v0=v0, rng=0)
    np.testing.assert_allclose(res.eigenvalues, exact, rtol=1e-8)


def test_eigenmodes_small_problem_spans_space():
    A = with_spectrum([1.0, 1.0, 2.0, 3.0, 4.0, 5.0], 2)
    res = eigenmodes(A, k=3, tol=1e-10, rng=0)
    np.testing.assert_allclose(res.eigenvalues, [1.0, 1.0, 2.0], atol=1e-9)


def test_eigenmodes_maxiter_reports_failure():
    A = with_spectrum(np.concatenate([[1.0, 1.0001], np.linspace(1.0002, 1000, 298)]), 3)
    res = eigenmodes(A, k=2, tol=1e-12, scale=0.0, maxiter=1, ncv=10, rng=0)
    assert not res.converged
    assert "restarts" in res.message


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(H=np.ones((3, 4))), "square"),
        (dict(H=np.ones(5)), "square"),
        (dict(k=10), "k"),
        (dict(k=0), "k"),
        (dict(k=5, which="both"), "k"),
        (dict(which="SA"), "which"),
        (dict(v0=np.ones(7)), "v0"),
        (dict(v0=np.full(10, np.nan)), "v0"),
        (dict(v0=np.zeros(10)), "v0"),
        (dict(deflate=np.ones((9, 2))), "deflate"),
        (dict(deflate=np.full((10, 1), np.nan)), "deflate"),
        (dict(tol=-1.0), "tol"),
        (dict(block_size=0), "block_size"),
        (dict(scale=-1.0), "scale"),
        (dict(k=2.5), "k"),
        (dict(check_degeneracy=1.5), "check_degeneracy"),
        (dict(ncv=3), "ncv"),
    ],
)
def test_eigenmodes_bad_input(kwargs, match):
    args = dict(H=np.diag(np.arange(1.0, 11.0)), k=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        eigenmodes(**args)


def test_eigenmodes_v0_in_deflated_span_rejected():
    D = np.eye(10)[:, :2]
    with pytest.raises(ValueError, match="v0"):
        eigenmodes(np.diag(np.arange(1.0, 11.0)), k=2, deflate=D, v0=D[:, 0])


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None

if given is not None:

    @settings(max_examples=12, deadline=None, derandomize=True, database=None)
    @given(
        seed=st.integers(0, 10_000),
        mult=st.lists(st.integers(1, 4), min_size=2, max_size=4),
        which=st.sampled_from(["smallest", "largest"]),
    )
    def test_eigenmodes_random_multiplicities(seed, mult, which):
        rng = np.random.default_rng(seed)
        head = np.repeat(np.cumsum(rng.uniform(0.5, 2.0, len(mult))), mult)
        d = np.concatenate([head, head[-1] + 1 + rng.uniform(0, 30, 80)])
        if which == "largest":
            d = -d
        A = with_spectrum(d, seed)
        k = int(min(len(head), 6))
        w = np.linalg.eigvalsh(A)
        ref = w[:k] if which == "smallest" else w[-k:]
        res = eigenmodes(A, k=k, which=which, tol=1e-6, rng=seed)
        assert res.converged
        np.testing.assert_allclose(res.eigenvalues, ref, atol=1e-6 * np.abs(w).max() + 1e-9)


# ----------------------------------------------------------------------------- a physical Hessian: LJ13


def icosahedron13():
    """A centred 13-atom icosahedron (own construction; ase not needed)."""
    phi = (1 + 5**0.5) / 2
    v = []
    for a in (-1, 1):
        for b in (-phi, phi):
            v += [(0, a, b), (a, b, 0), (b, 0, a)]
    v = np.array(v, dtype=float)
    v *= 1.1 / np.linalg.norm(v[0])
    return np.vstack([np.zeros(3), v])


def relaxed_hessian(X0, h=1e-4):
    res = scipy.optimize.minimize(
        lennard_jones, X0.ravel(), jac=True, method="L-BFGS-B", options=dict(gtol=1e-10, ftol=1e-15, maxiter=5000)
    )
    x = res.x
    n = x.size
    H = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        H[:, i] = (lennard_jones(x + e)[1] - lennard_jones(x - e)[1]) / (2 * h)
    return x, 0.5 * (H + H.T)


@pytest.fixture(scope="module")
def lj13():
    x, H = relaxed_hessian(icosahedron13())
    B = rigid_body_modes(x)
    Q, _ = np.linalg.qr(B, mode="complete")
    C = Q[:, 6:]
    wc = np.linalg.eigvalsh(C.T @ H @ C)
    return x, H, B, wc


def test_lj_gradient_is_the_derivative_of_the_energy():
    x = icosahedron13().ravel() + np.random.default_rng(0).normal(0, 0.05, 39)
    g = lennard_jones(x)[1]
    num = scipy.optimize.approx_fprime(x, lambda z: lennard_jones(z)[0], 1e-7)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-5)


def test_lj13_minimum_is_the_icosahedron(lj13):
    x, H, B, wc = lj13
    assert lennard_jones(x)[0] == pytest.approx(-44.326801, abs=1e-5)  # Wales & Doye (1997)
    # the lowest vibrational eigenvalue is 5-fold degenerate (icosahedral symmetry)
    assert np.ptp(wc[:5]) < 1e-5 * wc[0] and wc[5] - wc[4] > 10


@pytest.mark.parametrize("tol", [1e-3, 1e-6])
def test_lj13_lowest_modes_with_rigid_body_deflation(lj13, tol):
    x, H, B, wc = lj13
    op = CountingOperator(H)
    res = eigenmodes(op, k=6, tol=tol, deflate=B, rng=0)
    assert res.converged, res.message
    assert res.n_products == op.products
    # all five copies of the lowest mode and the next one
    assert np.sum(np.abs(res.eigenvalues - wc[0]) < 1e-3 * wc[0]) == 5
    np.testing.assert_allclose(res.eigenvalues, wc[:6], rtol=1e-3 if tol == 1e-3 else 1e-9)
    assert np.linalg.norm(B.T @ res.eigenvectors) < 1e-8


def test_lj13_icosahedron_matches_ase_construction():
    ase_cluster = pytest.importorskip("ase.cluster")
    atoms = ase_cluster.Icosahedron("Ar", noshells=2, latticeconstant=2 ** (1 / 6) * np.sqrt(2))
    X = atoms.get_positions()
    X -= X.mean(0)
    e_ase = scipy.optimize.minimize(lennard_jones, X.ravel(), jac=True, method="L-BFGS-B").fun
    e_own = scipy.optimize.minimize(lennard_jones, icosahedron13().ravel(), jac=True, method="L-BFGS-B").fun
    assert e_ase == pytest.approx(e_own, abs=1e-5)


# ----------------------------------------------------------------------------- power and inverse iteration


def test_power_iteration_top_pairs_vs_eigh():
    d = np.concatenate([np.linspace(-1, 1, 118), [3.0, -5.0]])
    A = with_spectrum(d, 2)
    op = CountingOperator(A)
    res = power_iteration(op, k=2, tol=1e-8, maxiter=2000, rng=0)
    assert res.converged
    assert res.n_products == op.products
    np.testing.assert_allclose(res.eigenvalues, [-5.0, 3.0], atol=1e-6)
    np.testing.assert_allclose(residuals(A, res), res.residual_norms, rtol=1e-6, atol=1e-12)
    # the test is on the operator deflated by the pairs found before; the true
    # residual adds a component of the size of those pairs' residuals
    assert np.all(res.residual_norms <= 2e-8 * np.abs(res.eigenvalues).max())


def test_power_iteration_with_deflation_and_maxiter():
    d = np.concatenate([np.linspace(0, 1, 57), [2.0, 4.0, 8.0]])
    A = with_spectrum(d, 3)
    res = power_iteration(A, k=1, tol=1e-8, deflate=np.linalg.eigh(A)[1][:, -1:], rng=0)
    np.testing.assert_allclose(res.eigenvalues, [4.0], atol=1e-6)
    res = power_iteration(A, k=1, tol=1e-14, maxiter=3, rng=0)
    assert not res.converged and res.n_products == 3


@pytest.mark.parametrize("inner", ["minres", "cg"])
def test_inverse_iteration_closest_to_shift(inner):
    d = np.concatenate([[0.1, 0.4, 2.0, 2.2], np.linspace(3, 30, 76)])
    A = with_spectrum(d, 4)
    op = CountingOperator(A)
    res = inverse_iteration(op, sigma=0.0, k=2, tol=1e-8, inner=inner, rng=0)
    assert res.converged
    assert res.n_products == op.products  # inner solves included
    np.testing.assert_allclose(res.eigenvalues, [0.1, 0.4], atol=1e-7)
    np.testing.assert_allclose(residuals(A, res), res.residual_norms, rtol=1e-6, atol=1e-12)


def test_inverse_iteration_interior_shift_minres():
    d = np.concatenate([np.linspace(-10, -1, 40), [0.95, 1.3], np.linspace(3, 10, 38)])
    A = with_spectrum(d, 5)
    res = inverse_iteration(A, sigma=1.0, k=1, tol=1e-8, rng=0)
    assert res.converged
    np.testing.assert_allclose(res.eigenvalues, [0.95], atol=1e-7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(inner="gmres"), "inner"),
        (dict(sigma=np.nan), "sigma"),
        (dict(k=0), "k"),
        (dict(inner_tol=0.0), "inner_tol"),
    ],
)
def test_inverse_iteration_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        inverse_iteration(np.eye(5), **kwargs)


def test_power_iteration_bad_input():
    with pytest.raises(ValueError, match="k"):
        power_iteration(np.eye(4), k=4)
    with pytest.raises(ValueError, match="v0"):
        power_iteration(np.eye(4), v0=np.ones(3))


# ----------------------------------------------------------------------------- trace


@pytest.mark.parametrize("method", ["hutchinson", "hutch++"])
def test_hessian_trace_vs_np_trace(method):
    rng = np.random.default_rng(0)
    d = 10.0 * 0.8 ** np.arange(300) + rng.uniform(0, 0.05, 300)  # a decaying, Hessian-like spectrum
    A = with_spectrum(d, 1)
    op = CountingOperator(A)
    m = 150
    res = hessian_trace(op, n_products=m, method=method, rng=1)
    assert isinstance(res, TraceResult) and res.method == method
    assert res.n_products == op.products == m
    exact = np.trace(A)
    # Hutchinson's variance with Rademacher probes: 2 (||A||_F^2 - sum A_ii^2) per sample
    sd_hutch = math.sqrt(2 * (np.sum(A * A) - np.sum(np.diag(A) ** 2)) / m)
    assert abs(res.estimate - exact) <= 4 * sd_hutch  # a 4-sigma band: fails with probability < 1e-4
    assert abs(res.estimate - exact) <= 5 * res.std_error + 1e-12
    if method == "hutchinson":
        assert res.std_error == pytest.approx(sd_hutch, rel=0.35)
    else:
        # Hutch++ removes the top of the spectrum: far smaller error than plain Hutchinson
        assert res.std_error < 0.2 * sd_hutch


def test_hessian_trace_hutchpp_exact_when_the_sketch_spans_the_space():
    A = with_spectrum(np.arange(1.0, 21.0), 2)
    res = hessian_trace(A, n_products=60, rng=0)
    assert res.estimate == pytest.approx(210.0, abs=1e-9)
    assert res.std_error == 0.0


def test_hessian_trace_bad_input():
    with pytest.raises(ValueError, match="method"):
        hessian_trace(np.eye(3), method="xtrace")
    with pytest.raises(ValueError, match="n_products"):
        hessian_trace(np.eye(3), n_products=2)


# ----------------------------------------------------------------------------- spectral density


def test_spectral_density_vs_broadened_eigh_histogram():
    rng = np.random.default_rng(2)
    d = np.concatenate([rng.normal(0.0, 1.0, 300), rng.normal(8.0, 0.5, 100)])
    A = with_spectrum(d, 3)
    op = CountingOperator(A)
    sd = spectral_density(op, n_vectors=20, lanczos_steps=60, grid=800, rng=0)
    assert isinstance(sd, SpectralDensity)
    assert sd.n_products == op.products == 20 * 60
    assert op.matmat_calls == 60  # one block of all probes per Lanczos step
    assert np.trapezoid(sd.density, sd.grid) == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(sd.weights.sum(axis=1), 1.0, atol=1e-10)
    w = np.linalg.eigvalsh(A)
    # the exact density broadened the same way
    g = sd.grid
    kernel = np.exp(-0.5 * ((g[:, None] - w[None, :]) / sd.sigma) ** 2)
    exact = kernel.sum(1) / (w.size * sd.sigma * math.sqrt(2 * math.pi))
    l1 = np.trapezoid(np.abs(sd.density - exact), g)
    assert l1 < 0.15
    # moments: the quadrature is exact for low-degree polynomials in expectation
    mean = np.trapezoid(g * sd.density, g)
    second = np.trapezoid(g * g * sd.density, g)
    assert mean == pytest.approx(w.mean(), abs=0.3)
    assert second == pytest.approx(np.mean(w**2) + sd.sigma**2, rel=0.1)


def test_spectral_density_small_matrix_is_exact_and_grid_array():
    A = with_spectrum([1.0, 2.0, 2.0, 5.0], 4)
    grid = np.linspace(0, 6, 601)
    sd = spectral_density(A, n_vectors=3, lanczos_steps=10, grid=grid, sigma=0.05, rng=0)
    assert np.all(sd.grid == grid)
    nodes = sd.nodes[np.isfinite(sd.nodes)]
    for v in nodes:
        assert np.min(np.abs(v - np.array([1.0, 2.0, 5.0]))) < 1e-8
    assert np.trapezoid(sd.density, grid) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sigma=0.0), "sigma"),
        (dict(grid=np.array([1.0, 0.0])), "grid"),
        (dict(n_vectors=0), "n_vectors"),
        (dict(lanczos_steps=0), "lanczos_steps"),
        (dict(grid=1), "grid"),
    ],
)
def test_spectral_density_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        spectral_density(np.eye(5), **kwargs)


# ----------------------------------------------------------------------------- heavier checks


@pytest.mark.slow
@pytest.mark.parametrize("tol", [1e-3, 1e-6])
@pytest.mark.parametrize("which", ["smallest", "largest"])
def test_lj38_modes_vs_eigh(tol, which):
    R = (3 * 38 / (4 * np.pi)) ** (1 / 3)
    gen = np.random.default_rng(0)
    pts = []
    while len(pts) < 38:
        p = gen.uniform(-R, R, 3)
        if np.linalg.norm(p) <= R and all(np.linalg.norm(p - q) >= 0.8 for q in pts):
            pts.append(p)
    x, H = relaxed_hessian(np.array(pts))
    B = rigid_body_modes(x)
    Q, _ = np.linalg.qr(B, mode="complete")
    wc = np.linalg.eigvalsh(Q[:, 6:].T @ H @ Q[:, 6:])
    res = eigenmodes(H, k=6, which=which, tol=tol, deflate=B, scale=0.0, rng=0)
    ref = wc[:6] if which == "smallest" else wc[-6:]
    np.testing.assert_allclose(res.eigenvalues, ref, rtol=10 * tol)


@pytest.mark.slow
def test_many_seeds_degenerate_copies():
    d = np.concatenate([[1.0] * 5, np.linspace(2, 100, 295)])
    for seed in range(10):
        A = with_spectrum(d, seed)
        res = eigenmodes(A, k=6, tol=1e-3, rng=seed)
        assert np.sum(np.abs(res.eigenvalues - 1.0) < 1e-2) == 5


def test_eigenmodes_on_curvopt_hessian_operator():
    """curvopt's own HessianOperator (finite-difference products of rosen_der) counts the same products."""
    hvp = pytest.importorskip("curvopt.hvp")
    x = np.tile([-1.2, 1.0], 10)
    H = hvp.HessianOperator(x, jac=scipy.optimize.rosen_der)
    res = eigenmodes(H, k=3, tol=1e-6, rng=0)
    assert res.n_products == H.n_products
    exact = np.linalg.eigvalsh(scipy.optimize.rosen_hess(x))[:3]
    np.testing.assert_allclose(res.eigenvalues, exact, rtol=1e-7)
    before = H.n_products
    res = eigenmodes(H, k=3, tol=1e-6, block_size=2, rng=0)
    assert H.n_products - before == res.n_products
    np.testing.assert_allclose(res.eigenvalues, exact, rtol=1e-7)
