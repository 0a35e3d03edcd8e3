"""curvopt.eigenmodes against scipy.sparse.linalg.eigsh: products used and accuracy, side by side.

Run as ``python benchmarks/bench_eigen.py`` (``--quick`` for one seed).  Every
number is measured in this run.  Products are counted by a wrapping
LinearOperator for both solvers (and checked against curvopt's own
``n_products``).  Accuracy is the largest relative eigenvalue error against
``numpy.linalg.eigh`` of the same explicit operator.

Stopping tests.  eigsh (ARPACK) accepts a Ritz pair when its Ritz estimate --
the residual norm ``||H v - theta v||`` read off the Krylov relation -- is at
most ``tol * |theta|``.  curvopt's default test is ``tol * max(|theta|, ||H||)``
(a normwise backward error, looser for eigenvalues far below ``||H||``);
``scale=0`` gives eigsh's test.  The headline ratio therefore uses
``eigenmodes(..., scale=0)``: same k, same tol, same residual test, same
operator.  The degeneracy check (on by default) is included in curvopt's
count; the column "no check" shows what it costs.

Equal accuracy.  eigsh tests convergence only once per restart cycle and so
usually overshoots the test; curvopt stops at the first product that passes
it, so at the same ``tol`` eigsh's eigenvalues are often more accurate.  The
column "eq acc" therefore reruns curvopt (``scale=0``, check on) at
``tol / 3**j``, j = 0, 1, ..., for the first ``tol`` at which its largest
error over the seeds is at most eigsh's, and "ratio eq" is its product count
over eigsh's.  "lanczos" is the product count of plain Lanczos from the same
random start, unrestarted, until its Ritz values first reach eigsh's
accuracy: a floor for any single-vector Krylov method from that start
(without any check for missed copies).

Problems (k = 6):

* ``rosen1000``: the chained Rosenbrock Hessian at x = (-1.2, 1, -1.2, ...),
  n = 1000, explicit tridiagonal (scipy.sparse).
* ``illcond500``: Q diag(logspace(0, 4, 500)) Q^T with a random orthogonal Q.
* ``lj13``: the 13-atom Lennard-Jones icosahedron (epsilon = sigma = 1),
  relaxed by L-BFGS-B; Hessian by central differences of the analytic
  gradient, symmetrised.  Its lowest vibrational eigenvalue is 5-fold.
* ``lj38``: 38 atoms, uniform random start in a sphere of number density 1
  (``default_rng(0)``, rejection below 0.8), relaxed by L-BFGS-B to
  gtol 1e-8; Hessian as for lj13.

For the clusters the six rigid-body modes are deflated: curvopt gets
``deflate=`` the translations and rotations; eigsh gets the same projected
operator ``P H P`` (start vector in the complement), with the rigid modes
moved from 0 to the mean of the other eigenvalues so that 'SA' cannot return
them -- both solve the same problem.

BLAS threads are pinned to 1 (evaluation counts can depend on them).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
import scipy.optimize  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as sla  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curvopt.eigen import eigenmodes  # noqa: E402
from curvopt.saddle import rigid_body_modes  # noqa: E402
from curvopt.testing.potentials import lennard_jones  # noqa: E402

K = 6
TOLS = (1e-3, 1e-6)


# --------------------------------------------------------------------------- problems


def relax(x0, gtol):
    res = scipy.optimize.minimize(
        lennard_jones, x0, jac=True, method="L-BFGS-B", options=dict(gtol=gtol, ftol=1e-16, maxiter=20000)
    )
    return res.x


def fd_hessian(x, h=1e-4):
    n = x.size
    H = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        H[:, i] = (lennard_jones(x + e)[1] - lennard_jones(x - e)[1]) / (2 * h)
    return 0.5 * (H + H.T)


def icosahedron():
    try:
        from ase.cluster import Icosahedron

        X = Icosahedron("Ar", noshells=2, latticeconstant=2 ** (1 / 6) * np.sqrt(2)).get_positions()
        return X - X.mean(0), "ase"
    except ImportError:
        phi = (1 + 5**0.5) / 2
        v = [(0, a, b) for a in (-1, 1) for b in (-phi, phi)]
        v += [(a, b, 0) for a in (-1, 1) for b in (-phi, phi)]
        v += [(b, 0, a) for a in (-1, 1) for b in (-phi, phi)]
        v = np.array(v) * 1.1 / np.linalg.norm(v[0])
        return np.vstack([np.zeros(3), v]), "own"


def random_sphere(n_atoms, seed=0):
    R = (3 * n_atoms / (4 * np.pi)) ** (1 / 3)
    gen = np.random.default_rng(seed)
    pts = []
    while len(pts) < n_atoms:
        p = gen.uniform(-R, R, 3)
        if np.linalg.norm(p) > R or any(np.linalg.norm(p - q) < 0.8 for q in pts):
            continue
        pts.append(p)
    return np.array(pts)


def problems():
    out = {}
    x = np.tile([-1.2, 1.0], 500)
    H = sp.csr_matrix(scipy.optimize.rosen_hess(x))
    out["rosen1000"] = (H, None, H.toarray(), "tridiagonal, sparse")
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((500, 500)))
    A = (Q * np.logspace(0, 4, 500)) @ Q.T
    A = 0.5 * (A + A.T)
    out["illcond500"] = (A, None, A, "cond 1e4, logspace")
    X0, how = icosahedron()
    x = relax(X0.ravel(), 1e-10)
    out["lj13"] = (fd_hessian(x), rigid_body_modes(x), None, f"E = {lennard_jones(x)[0]:.6f} (start: {how})")
    x = relax(random_sphere(38).ravel(), 1e-8)
    out["lj38"] = (fd_hessian(x), rigid_body_modes(x), None, f"E = {lennard_jones(x)[0]:.6f}")
    return out


# --------------------------------------------------------------------------- measurement


class Counted(sla.LinearOperator):
    def __init__(self, apply, n):
        super().__init__(dtype=np.float64, shape=(n, n))
        self.apply = apply
        self.products = 0

    def _matvec(self, x):
        self.products += 1
        return self.apply(np.ravel(x))

    def _matmat(self, X):
        self.products += X.shape[1]
        return np.column_stack([self.apply(X[:, i]) for i in range(X.shape[1])])


def reference(H_dense, B):
    """eigh of the operator restricted to the complement of B (all of it when B is None)."""
    if B is None:
        return np.linalg.eigvalsh(H_dense)
    Q, _ = np.linalg.qr(B, mode="complete")
    C = Q[:, B.shape[1] :]
    return np.linalg.eigvalsh(C.T @ H_dense @ C)


def copies_ok(values, ref):
    """Every degenerate cluster of the reference (neighbours within 1e-6 relative: the finite-difference
    Hessians of the symmetric clusters split their multiplets by ~1e-7) has all its copies in `values`."""
    clusters = []
    for v in ref:
        if clusters and abs(v - clusters[-1][0]) <= 1e-6 * max(abs(v), 1.0):
            clusters[-1][1] += 1
        else:
            clusters.append([v, 1])
    degenerate = [c for c in clusters if c[1] > 1]
    if not degenerate:
        return "-"
    ok = all(np.sum(np.abs(values - v) <= 1e-3 * abs(v)) == m for v, m in degenerate)
    return "yes" if ok else "NO"


def run_eigsh(H, B, which, tol, seed, n):
    if B is None:
        apply = lambda v: H @ v  # noqa: E731
        v0 = np.random.default_rng(seed).standard_normal(n)
    else:
        Hd = H
        shift = (np.trace(Hd) - np.trace(B.T @ Hd @ B)) / (n - B.shape[1])

        def apply(v):
            c = B.T @ v
            w = Hd @ (v - B @ c)
            return w - B @ (B.T @ w) + shift * (B @ c)

        v0 = np.random.default_rng(seed).standard_normal(n)
        v0 -= B @ (B.T @ v0)
    op = Counted(apply, n)
    vals = sla.eigsh(op, K, which="SA" if which == "smallest" else "LA", tol=tol, v0=v0, return_eigenvectors=False)
    return np.sort(vals), op.products


def run_curvopt(H, B, which, tol, seed, n, **kw):
    op = Counted(lambda v: H @ v, n)
    res = eigenmodes(op, K, which=which, tol=tol, deflate=B, rng=seed, **kw)
    assert res.n_products == op.products, (res.n_products, op.products)
    return res.eigenvalues, res.n_products, res.converged


def rel_err(values, ref):
    return float(np.max(np.abs(values - ref) / np.abs(ref)))


def lanczos_floor(H, B, which, seed, n, ref, target, limit=800):
    """Products plain, unrestarted Lanczos (full reorthogonalization) from eigsh's start vector
    needs before its k extreme Ritz values are within `target` (relative) of `ref`."""
    v = np.random.default_rng(seed).standard_normal(n)
    if B is not None:
        v -= B @ (B.T @ v)
    m_max = min(limit, n if B is None else n - B.shape[1])
    Q = np.zeros((n, m_max))
    Q[:, 0] = v / np.linalg.norm(v)
    alpha, beta = np.zeros(m_max), np.zeros(m_max)
    for m in range(1, m_max + 1):
        w = H @ Q[:, m - 1]
        if B is not None:
            w -= B @ (B.T @ w)
        alpha[m - 1] = Q[:, m - 1] @ w
        if m >= K:
            sel = (0, K - 1) if which == "smallest" else (m - K, m - 1)
            vals = scipy.linalg.eigvalsh_tridiagonal(alpha[:m], beta[: m - 1], select="i", select_range=sel)
            if rel_err(np.sort(vals), ref) <= target:
                return m
        if m == m_max:
            break
        for _ in range(2):
            w = w - Q[:, :m] @ (Q[:, :m].T @ w)
        beta[m - 1] = np.linalg.norm(w)
        if beta[m - 1] == 0:
            return None
        Q[:, m] = w / beta[m - 1]
    return None


def equal_accuracy(H, B, which, tol, seeds, n, ref, target):
    """curvopt (scale=0) at tol / 3**j: products and tol for the first j whose largest error <= target."""
    for j in range(13):
        t = tol / 3.0**j
        prods, errs = [], []
        for seed in seeds:
            vals, p, _ = run_curvopt(H, B, which, t, seed, n, scale=0.0)
            prods.append(p)
            errs.append(rel_err(vals, ref))
        if max(errs) <= target:
            return float(np.mean(prods)), t
    return None, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed instead of three")
    args = parser.parse_args()
    seeds = range(1 if args.quick else 3)
    t0 = time.perf_counter()
    probs = problems()
    print(f"problems built in {time.perf_counter() - t0:.1f} s")
    for name, (H, B, dense, note) in probs.items():
        print(f"  {name}: n = {H.shape[0]}, {note}")
    print()
    variants = {
        "same test": dict(scale=0.0),
        "no check": dict(scale=0.0, check_degeneracy=False),
        "default": dict(),
    }
    header = (
        f"{'problem':<11}{'which':<9}{'tol':>6} | {'eigsh':>7} {'curvopt':>8} {'ratio':>6} | "
        f"{'no check':>8} {'default':>8} | {'err eigsh':>9} {'err curv':>9} {'err dflt':>9} | "
        f"{'eq acc':>7} {'at tol':>7} {'ratio eq':>8} {'lanczos':>7} | copies e/c"
    )
    print("products: mean over seeds", list(seeds), "; errors: largest relative eigenvalue error over seeds")
    print(header)
    print("-" * len(header))
    ratios = []
    for name, (H, B, dense, note) in probs.items():
        n = H.shape[0]
        Hd = dense if dense is not None else H
        w = reference(Hd, B)
        for which in ("smallest", "largest"):
            ref = w[:K] if which == "smallest" else w[-K:]
            for tol in TOLS:
                e_prod, e_err, e_copy = [], [], []
                c = {v: ([], [], []) for v in variants}
                unconverged = set()
                for seed in seeds:
                    vals, prods = run_eigsh(Hd if B is not None else H, B, which, tol, seed, n)
                    e_prod.append(prods)
                    e_err.append(rel_err(vals, ref))
                    e_copy.append(copies_ok(vals, ref))
                    for v, kw in variants.items():
                        vals, prods, conv = run_curvopt(H, B, which, tol, seed, n, **kw)
                        if not conv:
                            unconverged.add(v)
                        c[v][0].append(prods)
                        c[v][1].append(rel_err(vals, ref))
                        c[v][2].append(copies_ok(vals, ref))
                ep = np.mean(e_prod)
                cp = np.mean(c["same test"][0])
                ratios.append((name, which, tol, cp / ep))

                def agg(flags):
                    return "NO" if "NO" in flags else flags[0]

                def p(v):
                    return f"{np.mean(c[v][0]):.0f}" + ("*" if v in unconverged else "")

                target = max(e_err)
                eq_prod, eq_tol = equal_accuracy(H, B, which, tol, seeds, n, ref, target)
                floors = [lanczos_floor(Hd if B is not None else H, B, which, s, n, ref, target) for s in seeds]
                floor = f"{np.mean(floors):.0f}" if None not in floors else "-"
                if eq_prod:
                    eq = f"{eq_prod:>7.0f} {eq_tol:>7.0e} {eq_prod / ep:>8.2f}"
                else:
                    eq = f"{'-':>7} {'-':>7} {'-':>8}"
                ratios[-1] += (eq_prod / ep if eq_prod else np.inf,)
                print(
                    f"{name:<11}{which:<9}{tol:>6.0e} | {ep:>7.0f} {p('same test'):>8} {cp / ep:>6.2f} | "
                    f"{p('no check'):>8} {p('default'):>8} | "
                    f"{max(e_err):>9.1e} {max(c['same test'][1]):>9.1e} {max(c['default'][1]):>9.1e} | "
                    f"{eq} {floor:>7} | "
                    f"{agg(e_copy):>4}/{agg(c['same test'][2]):<4}",
                    flush=True,
                )
    print()
    print("ratio = curvopt products (eigsh's test, scale=0, degeneracy check on) / eigsh products")
    print("no check: check_degeneracy=False; default: curvopt's own test (scale = ||H|| estimate)")
    print("eq acc / at tol / ratio eq: curvopt (scale=0, check on) at the loosest tol / 3**j as accurate as eigsh")
    print("lanczos: unrestarted single-vector Lanczos from eigsh's start until as accurate as eigsh (a floor)")
    print("*: some run stopped unconverged (maxiter)")
    print("copies e/c: every copy of a degenerate eigenvalue among the k wanted found by eigsh / curvopt ('-': none)")
    met = sum(r[3] <= 0.7 for r in ratios)
    met_eq = sum(r[4] <= 0.7 for r in ratios)
    print(f"ratio <= 0.7 in {met} of {len(ratios)} rows (same tol); {met_eq} of {len(ratios)} at equal accuracy")
    print(f"total time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
