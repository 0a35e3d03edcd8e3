"""The four plots of curvopt.plot, written as PNG files.

- convergence.png: the chained Rosenbrock function, f - f* and ||g|| against
  gradient calls, curvopt's trust-lbfgs (fewest gradient calls) and
  trust-region Newton-CG (finite-difference products, one gradient call each)
  beside scipy's L-BFGS-B and Newton-CG, all measured by the same counting
  wrapper.
- spectral_density.png: the Hessian spectrum of a relaxed Lennard-Jones
  cluster (LJ38) by stochastic Lanczos quadrature, with the eigenvalues of
  the Hessian built column by column as a rug and histogram.
- vibrations.png: harmonic wavenumbers of planar ammonia (GFN2-xTB), the
  transition state of the umbrella inversion: one imaginary mode.
- saddle_path.png: two saddle searches on the Müller-Brown surface.

Needs the extras plot and chem:  pip install "curvopt[plot,chem]"
Run:  python examples/plots.py [outdir]     (default outdir: plots/)
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib

matplotlib.use("Agg")  # files only: no window

import matplotlib.pyplot as plt
import numpy as np
import scipy.optimize
from scipy.optimize import rosen, rosen_der

import curvopt
from curvopt import plot
from curvopt.testing.potentials import muller_brown

DPI = 100


def convergence_figure(path, n=20):
    x0 = np.tile([-1.2, 1.0], n // 2)
    runs = {}
    for label, minimizer, method in [
        ("curvopt trust-lbfgs", curvopt.minimize, "trust-lbfgs"),
        ("curvopt trust-ncg", curvopt.minimize, "trust-ncg"),
        ("scipy L-BFGS-B", scipy.optimize.minimize, "L-BFGS-B"),
        ("scipy Newton-CG", scipy.optimize.minimize, "Newton-CG"),
    ]:
        rec = plot.Recorder(rosen_der, fun=rosen)
        # finish: scipy's Newton-CG fails in its last iteration, after the last callback
        rec.finish(minimizer(rec.fun, x0, jac=rec.jac, method=method, callback=rec))
        runs[label] = rec
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    plot.convergence(runs, fmin=0.0, ax=axes)
    fig.suptitle(f"Chained Rosenbrock, n = {n}: every gradient call counted (finite-difference products included)")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return runs


def spectral_density_figure(path, n_atoms=38):
    from curvopt.chem.systems import lj_cluster

    atoms, res = lj_cluster(n_atoms, gtol=1e-5)  # a picture needs no tighter minimum

    def gradient(x):
        atoms.positions = x.reshape(-1, 3)
        return -atoms.get_forces().ravel()

    H = curvopt.HessianOperator(res.x, jac=gradient)
    density = curvopt.spectral_density(H, n_vectors=8, lanczos_steps=40, rng=0)
    dense = H @ np.eye(H.shape[0])
    eigenvalues = np.linalg.eigvalsh(0.5 * (dense + dense.T))
    fig, ax = plt.subplots(figsize=(7, 4))
    plot.spectral_density(density, eigenvalues=eigenvalues, bins=40, ax=ax)
    ax.set_title(f"LJ{n_atoms} Hessian: {density.n_products} products (SLQ) vs {H.shape[0]} for the dense Hessian")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return density, eigenvalues


def vibrations_figure(path):
    from ase.build import molecule
    from tblite.ase import TBLite

    from curvopt.chem import vibrations
    from curvopt.chem.systems import relax

    atoms = molecule("NH3")
    atoms.positions[:, 2] = 0.0  # planar: forces stay in the plane, so relaxing finds the inversion barrier top
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0, accuracy=1e-3)
    relax(atoms, fmax=1e-5)
    res = vibrations(atoms)
    fig, ax = plt.subplots(figsize=(7, 4))
    plot.stick_spectrum(res, width=40.0, ax=ax)
    ax.set_title(f"Planar NH$_3$ (GFN2-xTB): {res.n_force_calls} force calls")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return res


def saddle_path_figure(path):
    extent = (-1.5, 1.2, -0.4, 2.0)
    fig, ax = plt.subplots(figsize=(7, 6))
    results = []
    for start, color in [((-0.5, 1.0), "C3"), ((0.6, 0.1), "C1")]:
        res = curvopt.find_saddle(muller_brown, start, jac=True, options={"return_all": True})
        plot.saddle_path(res, muller_brown if not results else None, ax=ax, extent=extent, color=color,
                         label=f"from {start}: {res.nit} steps, {res.njev} gradient calls")
        results.append(res)
    ax.legend(loc="upper right")
    ax.set_title("Müller-Brown: saddle searches (curvopt.find_saddle)")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return results


def main(outdir="plots"):
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    out = {
        "convergence": convergence_figure(outdir / "convergence.png"),
        "spectral_density": spectral_density_figure(outdir / "spectral_density.png"),
        "vibrations": vibrations_figure(outdir / "vibrations.png"),
        "saddle_path": saddle_path_figure(outdir / "saddle_path.png"),
    }
    for name in out:
        print(outdir / f"{name}.png")
    return out


if __name__ == "__main__":
    main(*sys.argv[1:2])
