"""Small test and benchmark systems for `curvopt.chem`: Lennard-Jones clusters, n-alkanes, relaxation."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.lj import LennardJones
from scipy.optimize import minimize

__all__ = ["lj_cluster", "lj_start", "lj13_start", "cu_adatom_slab", "alkane", "relax", "counted"]


def lj_start(n, seed=0):
    """The unrelaxed start of `lj_cluster`: `n` Ar atoms at random points in the sphere of number density 1.

    Radius ``(3 n / (4 pi))^(1/3)``; points drawn one at a time by
    ``default_rng(seed).uniform(-R, R, 3)``, rejecting points outside the
    sphere or closer than 0.8 to an accepted point (the LJ38 and LJ75 starts
    of the benchmarks).  No calculator is attached.
    """
    R = (3 * n / (4 * np.pi)) ** (1 / 3)
    rng = np.random.default_rng(seed)
    pts = []
    while len(pts) < n:
        p = rng.uniform(-R, R, 3)
        if np.linalg.norm(p) > R:
            continue
        if pts and np.min(np.linalg.norm(np.array(pts) - p, axis=1)) < 0.8:
            continue
        pts.append(p)
    return Atoms(f"Ar{n}", positions=np.array(pts))


def lj13_start(seed=0, noise=0.1):
    """The LJ13 benchmark start: the 13-atom Mackay icosahedron at the LJ pair distance ``2^(1/6)``,
    centred, plus ``default_rng(seed).normal(0, noise, (13, 3))``.  No calculator is attached."""
    from ase.cluster import Icosahedron

    atoms = Icosahedron("Ar", noshells=2, latticeconstant=2 ** (1 / 6) * np.sqrt(2))
    atoms.center()
    atoms.positions += np.random.default_rng(seed).normal(0, noise, (13, 3))
    return atoms


def cu_adatom_slab():
    """Sella's README example: a Cu adatom at the bridge site of Cu(111) (fcc111 5x5x6, vacuum 7.5 Å).

    Returns the Atoms (no calculator, no constraint) and the boolean mask of
    the free atoms (the upper half of the cell: the adatom and the top three
    layers, 228 coordinates); the bottom three layers are meant to be fixed.
    """
    from ase.build import add_adsorbate, fcc111

    slab = fcc111("Cu", (5, 5, 6), vacuum=7.5)
    add_adsorbate(slab, "Cu", 2.0, "bridge")
    free = np.array([atom.position[2] >= slab.cell[2, 2] / 2.0 for atom in slab])
    return slab, free


def lj_cluster(n, seed=0, *, gtol=1e-8):
    """A relaxed Lennard-Jones cluster of `n` unit-mass atoms (epsilon = sigma = 1, rc = 10).

    Start: uniform random points in the sphere of number density 1 (radius
    ``(3 n / (4 pi))^(1/3)``), drawn one at a time by
    ``default_rng(seed).uniform(-R, R, 3)``, rejecting points outside the
    sphere or closer than 0.8 to an accepted point; then L-BFGS-B on ASE's
    ``LennardJones`` to ``gtol``, polished by ASE's BFGS on the forces to
    ``fmax = gtol`` (L-BFGS-B stops on energy round-off first).  Returns the Atoms (with the calculator
    attached, masses 1) and the scipy result.
    """
    atoms = lj_start(n, seed)
    atoms.set_masses(np.ones(n))
    atoms.calc = LennardJones(epsilon=1.0, sigma=1.0, rc=10.0)

    def fg(x):
        atoms.positions = x.reshape(-1, 3)
        return atoms.get_potential_energy(), -atoms.get_forces().ravel()

    res = minimize(
        fg,
        atoms.positions.ravel(),
        jac=True,
        method="L-BFGS-B",
        options=dict(gtol=gtol, ftol=0.0, maxiter=100000, maxcor=30),
    )
    atoms.positions = res.x.reshape(-1, 3)
    # L-BFGS-B stalls on round-off in the energy near 1e-7; ASE's BFGS polishes on forces alone
    relax(atoms, fmax=gtol)
    res.x = atoms.positions.ravel().copy()
    res.jac = -atoms.get_forces().ravel()
    return atoms, res


def alkane(n=16):
    """An all-trans n-alkane C_nH_(2n+2) (unrelaxed, idealized tetrahedral geometry)."""
    cc, ch = 1.54, 1.09
    half = np.radians(109.47 / 2)
    dx, dy = cc * np.sin(half), cc * np.cos(half)
    t = np.radians(54.75)
    symbols, pos = [], []
    carbons = [np.array([i * dx, (i % 2) * dy, 0.0]) for i in range(n)]
    for c in carbons:
        symbols.append("C")
        pos.append(c)
    for i, c in enumerate(carbons):
        s = 1 if i % 2 else -1
        for z in (1, -1):
            symbols.append("H")
            pos.append(c + ch * np.array([0.0, s * np.cos(t), z * np.sin(t)]))
        if i in (0, n - 1):
            sgn = -1 if i == 0 else 1
            a = np.radians(70)
            symbols.append("H")
            pos.append(c + ch * np.array([sgn * np.sin(a), -s * np.cos(a), 0.0]))
    return Atoms(symbols, positions=pos)


def relax(atoms, fmax=1e-5, steps=2000):
    """Relax `atoms` in place with ASE's BFGS to `fmax` (eV/Å); returns the number of steps."""
    from ase.optimize import BFGS

    opt = BFGS(atoms, logfile=None)
    opt.run(fmax=fmax, steps=steps)
    return opt.nsteps


def counted(calc):
    """`calc` with its evaluations counted in ``calc.n_evaluations`` (calls of its ``calculate``).

    Independent of any optimizer's own bookkeeping: the examples and
    benchmarks count every tool's force calls with it, curvopt's and ASE's
    alike.  Reading results again at a point already computed costs no call,
    as in ASE.
    """
    calc.n_evaluations = 0
    inner = calc.calculate

    def calculate(*args, **kwargs):
        calc.n_evaluations += 1
        return inner(*args, **kwargs)

    calc.calculate = calculate
    return calc
