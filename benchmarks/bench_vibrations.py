"""Force calls and eigenvalue accuracy: curvopt.chem.vibrations vs ASE Vibrations vs scipy eigsh.

Systems: LJ13 and LJ38 (unit masses, relaxed, exact reference = analytic pair
Hessian projected on the vibrational complement) and n-hexadecane C16H34
(50 atoms, GFN2-xTB, relaxed to fmax 1e-4 eV/Å; reference = the full
central-difference Hessian, method='full').  The error column is the largest
relative eigenvalue (omega^2) error over the modes computed.
Run:  python benchmarks/bench_vibrations.py [--quick]
"""

import os
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import scipy.linalg
from ase import units
from ase.vibrations import Vibrations
from scipy.sparse.linalg import LinearOperator, eigsh

from curvopt import HessianOperator
from curvopt.chem import rigid_body_modes, vibrations
from curvopt.chem.systems import alkane, counted, lj_cluster, relax
from curvopt.chem.vibrations import _Forces, _MassWeightedProducts
from curvopt.testing.potentials import lennard_jones_hessian


def projected(H, atoms):
    m = atoms.get_masses()
    sm = np.repeat(np.sqrt(m), 3)
    R, _ = rigid_body_modes(atoms.positions, m)
    Q = scipy.linalg.null_space(R.T)
    return np.linalg.eigvalsh(Q.T @ (H / sm[:, None] / sm[None, :]) @ Q)


def ase_vibrations(atoms, make_calc):
    a = atoms.copy()
    a.calc = counted(make_calc())
    with tempfile.TemporaryDirectory() as tmp:
        vib = Vibrations(a, name=os.path.join(tmp, "vib"))
        vib.run()
        e = vib.get_energies()
    # omega^2 from the energies, rigid-body modes (the 6 smallest |omega|) dropped
    lam = np.sign(e.real**2 - e.imag**2) * np.abs(e) ** 2 / (units._hbar * units.m / np.sqrt(units._e * units._amu)) ** 2
    lam = np.sort(lam[np.argsort(np.abs(lam))[6:]])
    return lam, a.calc.n_evaluations


def eigsh_lowest(atoms, k, delta):
    """scipy eigsh (ARPACK) on the same mass-weighted products, restricted to the vibrational complement."""
    free = np.arange(len(atoms))
    m = atoms.get_masses()
    sm = np.repeat(np.sqrt(m), 3)
    forces = _Forces(atoms, free, None)
    prods = _MassWeightedProducts(forces, atoms.positions.ravel(), sm, delta, "3-point")
    R, _ = rigid_body_modes(atoms.positions, m)
    Q = scipy.linalg.null_space(R.T)
    H = HessianOperator(atoms.positions.ravel() * sm, hessp=lambda q, p: prods(p))
    A = LinearOperator((Q.shape[1],) * 2, matvec=lambda y: Q.T @ (H @ (Q @ y)), dtype=float)
    lam = eigsh(A, k=k, which="SA", tol=1e-6, v0=np.ones(Q.shape[1]))[0]
    return np.sort(lam), forces.n_calls


def rel_err(lam, ref):
    return float(np.max(np.abs(lam - ref) / np.abs(ref)))


def row(system, label, calls, ase_calls, err):
    print(f"{system:10s} {label:44s} {calls:6d} {calls / ase_calls:7.0%} {err:10.1e}")


def bench_lj(n):
    atoms, _ = lj_cluster(n)
    exact = projected(lennard_jones_hessian(atoms.positions, rc=10.0), atoms)
    from ase.calculators.lj import LennardJones

    lam, ase_calls = ase_vibrations(atoms, lambda: LennardJones(epsilon=1.0, sigma=1.0, rc=10.0))
    sysname = f"LJ{n}"
    row(sysname, "ASE Vibrations (all, delta=0.01)", ase_calls, ase_calls, rel_err(lam, exact))
    for label, kw in [
        ("curvopt all, 2-point, delta=1e-5", dict(hvp="2-point", delta=1e-5)),
        ("curvopt all, 3-point, delta=1e-4", dict(delta=1e-4)),
        ("curvopt k=6 lanczos, 3-point, delta=1e-4", dict(k=6, delta=1e-4)),
        ("curvopt k=6 lanczos, 2-point, delta=1e-5", dict(k=6, hvp="2-point", delta=1e-5)),
    ]:
        r = vibrations(atoms, **kw)
        row(sysname, label, r.n_force_calls, ase_calls, rel_err(r.eigenvalues, exact[: r.eigenvalues.size]))
    lam, calls = eigsh_lowest(atoms, 6, 1e-4)
    row(sysname, "scipy eigsh k=6 on the same products", calls, ase_calls, rel_err(lam, exact[:6]))


def bench_alkane():
    from tblite.ase import TBLite

    def make():
        return TBLite(method="GFN2-xTB", verbosity=0, accuracy=1e-3)

    atoms = alkane(16)
    atoms.calc = make()
    relax(atoms, fmax=1e-4)
    t = time.perf_counter()
    # the reference: the full Hessian with a tight SCF and a short step (the default 5e-3 Å single-coordinate
    # steps are off by 2 cm^-1 on the third mode, a soft torsion, where the directional products are not)
    tight = atoms.copy()
    tight.calc = TBLite(method="GFN2-xTB", verbosity=0, accuracy=1e-6)
    full = vibrations(tight, method="full", delta=1e-3)
    ref = full.eigenvalues
    lam, ase_calls = ase_vibrations(atoms, make)
    sysname = "C16H34"
    row(sysname, "ASE Vibrations (all, delta=0.01)", ase_calls, ase_calls, rel_err(lam, ref))
    row(sysname, "curvopt method='full', delta=1e-3 (reference)", full.n_force_calls, ase_calls, 0.0)
    for label, kw in [
        ("curvopt all, 3-point", dict()),
        ("curvopt k=6 (default: davidson, Lindh model)", dict(k=6)),
        ("curvopt k=6 lanczos, 3-point", dict(k=6, method="lanczos")),
        ("curvopt k=6 lanczos, 2-point, delta=1e-4", dict(k=6, hvp="2-point", delta=1e-4)),
    ]:
        r = vibrations(atoms, **kw)
        row(sysname, label, r.n_force_calls, ase_calls, rel_err(r.eigenvalues, ref[: r.eigenvalues.size]))
    lam, calls = eigsh_lowest(atoms, 6, 5e-3)
    row(sysname, "scipy eigsh k=6 on the same products", calls, ase_calls, rel_err(lam, ref[:6]))
    print(f"(C16H34 block: {time.perf_counter() - t:.0f} s; lowest frequencies {np.round(full.frequencies[:6], 1)} cm^-1)")


def main(quick=False):
    print(f"{'system':10s} {'method':44s} {'calls':>6s} {'vs ASE':>7s} {'max rel err':>10s}")
    bench_lj(13)
    bench_lj(38)
    if not quick:
        bench_alkane()


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
