"""Force calls to converge, side by side: curvopt.chem.TrustNewton / TransitionState against ASE, scipy and Sella.

Minima (ASE's test: largest per-atom force < fmax = 1e-3, eV/Å or LJ units):

* Lennard-Jones LJ13, LJ38, LJ75 (ASE ``LennardJones(epsilon=1, sigma=1, rc=10)``; the starts of
  shared/REFERENCE.md, `curvopt.chem.systems.lj13_start` and `lj_start`);
* ethanol, benzene, trans-butane with GFN2-xTB (tblite), ``ase.build.molecule`` perturbed by
  ``default_rng(1).normal(0, 0.05)`` Å.

Optimizers: TrustNewton (and with ``verify=True``: the calls of its final check of the lowest mode
included), ASE's BFGS, LBFGS, FIRE and BFGSLineSearch, scipy's L-BFGS-B (stopped by a wrapper around
the calculator when the forces it just returned pass the test; that call counted), and Sella
(order 0, Cartesian) when installed.  A force call is one real calculator evaluation (counted by
wrapping ``calculate``; the same counter for every optimizer).  'dE' is the final energy less the
lowest final energy of that row's system: the larger clusters end in different local minima.

Saddle points (order 1): LJ7 from the reference start (relaxed LJ7 + ``default_rng(0).normal(0,
0.1)``), Sella's README example (Cu adatom on Cu(111), EMT, bottom layers fixed), and five molecular
TS with GFN2-xTB: HCN -> HNC, the NH3 umbrella inversion (planar TS, from 0.05 Å pyramidal), the
methyl rotation of ethane and of ethanol (from 10° short of eclipsed), and the H2CO -> HCOH 1,2-H
shift.  TransitionState ('auto': internal coordinates for the molecules, Cartesian for LJ7 and the
Cu adatom; and Cartesian for the molecules) against Sella (defaults; internal=True and False).
'order' is checked independently: LJ7 by the eigenvalues of a central-difference Hessian (rigid
modes projected), the molecules by `curvopt.chem.vibrations` (imaginary frequencies), the Cu
adatom by TransitionState's eigenvalues only.  Sella's published counts: LJ7 48, Cu adatom 26.

Run:  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_chem_optimizers.py [--no-xtb] [--no-sella]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.optimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_saddle import order_check_lj, sella_available  # noqa: E402

from curvopt.chem import TransitionState, TrustNewton, vibrations  # noqa: E402
from curvopt.chem.systems import counted, cu_adatom_slab, lj13_start, lj_start  # noqa: E402
from curvopt.testing.potentials import lj7_minimum  # noqa: E402

FMAX = 1e-3
MAX_STEPS = 5000


def lj_calculator():
    from ase.calculators.lj import LennardJones

    return LennardJones(epsilon=1.0, sigma=1.0, rc=10.0)


def xtb_calculator():
    from tblite.ase import TBLite

    return TBLite(method="GFN2-xTB", verbosity=0)


def molecule_start(name):
    from ase.build import molecule

    atoms = molecule(name)
    atoms.positions += np.random.default_rng(1).normal(0, 0.05, atoms.positions.shape)
    return atoms


def counted_copy(atoms, make_calc):
    """A copy of `atoms` with a fresh calculator whose evaluations are counted in ``atoms.calc.n_evaluations``."""
    a = atoms.copy()
    a.calc = counted(make_calc())
    return a


def fmax_of(atoms):
    return float(np.max(np.linalg.norm(atoms.get_forces(), axis=1)))


# ---------------------------------------------------------------- minimizers
def run_ase(name):
    def run(atoms):
        from ase import optimize

        opt = getattr(optimize, name)(atoms, logfile=None)
        return bool(opt.run(fmax=FMAX, steps=MAX_STEPS)), ""

    return run


def run_trust_newton(verify):
    def run(atoms):
        opt = TrustNewton(atoms, logfile=None, verify=verify)
        ok = bool(opt.run(fmax=FMAX, steps=MAX_STEPS))
        assert opt.n_force_calls == atoms.calc.n_evaluations, (opt.n_force_calls, atoms.calc.n_evaluations)
        note = ""
        if verify:
            note = f"lowest mode {opt.result.lowest_frequency:.1f} cm^-1, minimum {opt.result.is_local_minimum}"
        return ok, note

    return run


class _Converged(Exception):
    pass


def run_lbfgsb(atoms):
    best = {}

    def fg(x):
        atoms.positions = x.reshape(-1, 3)
        e, f = atoms.get_potential_energy(), atoms.get_forces()
        if np.max(np.linalg.norm(f, axis=1)) < FMAX:
            best["x"] = x.copy()
            raise _Converged
        return e, -f.reshape(-1)

    try:
        scipy.optimize.minimize(fg, atoms.positions.reshape(-1), jac=True, method="L-BFGS-B",
                                options=dict(gtol=0.0, ftol=0.0, maxiter=MAX_STEPS, maxfun=MAX_STEPS))
    except _Converged:
        atoms.positions = best["x"].reshape(-1, 3)
        return True, ""
    return False, ""


def run_sella_min(atoms):
    from sella import Sella

    opt = Sella(atoms, order=0, internal=False, logfile=None)
    return bool(opt.run(fmax=FMAX, steps=MAX_STEPS)), ""


def minima_table(use_xtb, use_sella):
    systems = {"LJ13": (lj13_start(), lj_calculator), "LJ38": (lj_start(38), lj_calculator),
               "LJ75": (lj_start(75), lj_calculator)}
    if use_xtb:
        for label, name in (("ethanol", "CH3CH2OH"), ("benzene", "C6H6"), ("trans-butane", "trans-butane")):
            systems[label] = (molecule_start(name), xtb_calculator)
    solvers = {
        "curvopt TrustNewton": run_trust_newton(False),
        "curvopt TrustNewton verify": run_trust_newton(True),
        "ASE BFGS": run_ase("BFGS"),
        "ASE LBFGS": run_ase("LBFGS"),
        "ASE FIRE": run_ase("FIRE"),
        "ASE BFGSLineSearch": run_ase("BFGSLineSearch"),
        "scipy L-BFGS-B": run_lbfgsb,
    }
    if use_sella:
        solvers["Sella (order 0, Cartesian)"] = run_sella_min
    print(f"Minima: force calls to fmax < {FMAX:g} (dE = final energy - lowest final energy of the system)")
    table = {}
    for system, (start, make_calc) in systems.items():
        rows = []
        for solver, run in solvers.items():
            atoms = counted_copy(start, make_calc)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ok, note = run(atoms)
            calls = atoms.calc.n_evaluations
            ok = ok and fmax_of(atoms) < FMAX
            rows.append((solver, calls, ok, float(atoms.get_potential_energy()), note))
        lowest = min(e for _, _, ok, e, _ in rows if ok)
        for solver, calls, ok, energy, note in rows:
            print(f"{system:<13} {solver:<28} {calls:>6d} {'ok' if ok else 'FAILED':>6}  "
                  f"E = {energy:>13.6f}  dE = {energy - lowest:.1e}  {note}", flush=True)
        others = [calls for solver, calls, ok, _, _ in rows if ok and not solver.startswith("curvopt")]
        ours = rows[0][1]
        print(f"{'':<13} -> TrustNewton {ours} calls, best other {min(others) if others else '-'}"
              f"{'  (fewer)' if others and ours < min(others) else ''}\n", flush=True)
        table[system] = rows
    return table


# ---------------------------------------------------------------- saddle points
def lj7_start():
    from ase import Atoms

    x0 = lj7_minimum() + np.random.default_rng(0).normal(0, 0.1, 21)
    return Atoms("Ar7", positions=x0.reshape(-1, 3))


def cu_start():
    from ase.constraints import FixAtoms

    slab, free = cu_adatom_slab()
    slab.set_constraint(FixAtoms(mask=~free))
    return slab


def hcn_start():
    from ase import Atoms

    return Atoms("CNH", positions=[[0.0, 0.0, 0.0], [1.18, 0.0, 0.0], [0.55, 1.05, 0.0]])


def nh3_start():
    """NH3 flattened to 0.05 Å from planar (the umbrella inversion's TS is planar)."""
    from ase.build import molecule

    atoms = molecule("NH3")
    p = atoms.positions - atoms.positions[0]
    p[1:, 2] = -0.05
    atoms.positions = p
    return atoms


def _rotate(atoms, axis, group, degrees):
    """`atoms` with the atoms of `group` turned by `degrees` about the line through the atoms `axis`."""
    a = atoms.copy()
    p = a.positions
    origin = p[axis[0]]
    t = (p[axis[1]] - origin) / np.linalg.norm(p[axis[1]] - origin)
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    for i in group:
        v = p[i] - origin
        p[i] = origin + v * c + np.cross(t, v) * s + t * (t @ v) * (1 - c)
    a.positions = p
    return a


def ethane_start():
    """Staggered ethane with one methyl turned by 50°: 10° short of the eclipsed TS."""
    from ase.build import molecule

    atoms = molecule("C2H6")
    d = atoms.get_all_distances()
    methyl = [i for i in range(2, 8) if d[i, 1] < d[i, 0]]
    return _rotate(atoms, (0, 1), methyl, 50.0)


def ethanol_start():
    """Ethanol with the methyl group turned by 50° from staggered (its rotation TS is eclipsed)."""
    from ase.build import molecule

    atoms = molecule("CH3CH2OH")
    symbols = atoms.get_chemical_symbols()
    d = atoms.get_all_distances()
    oxygen = symbols.index("O")
    carbons = [i for i, z in enumerate(symbols) if z == "C"]
    methyl_c = max(carbons, key=lambda c: d[c, oxygen])
    other_c = min(carbons, key=lambda c: d[c, oxygen])
    hydrogens = [i for i, z in enumerate(symbols) if z == "H" and d[i, methyl_c] < 1.3]
    return _rotate(atoms, (other_c, methyl_c), hydrogens, 50.0)


def formaldehyde_start():
    """H2CO -> HCOH (1,2-H shift): one H half-way between C and O, the other H-C-H nearly linear."""
    from ase import Atoms

    return Atoms("COHH", positions=[[0, 0, 0], [1.25, 0, 0], [0.65, 1.0, 0.0], [-0.55, -0.95, 0.0]])


def emt():
    from ase.calculators.emt import EMT

    return EMT()


def run_ts(coordinates):
    def run(atoms):
        opt = TransitionState(atoms, logfile=None, coordinates=coordinates)
        ok = bool(opt.run(fmax=FMAX, steps=1000))
        assert opt.n_force_calls == atoms.calc.n_evaluations, (opt.n_force_calls, atoms.calc.n_evaluations)
        return ok, opt.result.order_found, opt.coordinates_used

    return run


def run_sella_ts(internal):
    def run(atoms):
        from sella import Sella

        opt = Sella(atoms, order=1, internal=internal, logfile=None)
        return bool(opt.run(fmax=FMAX, steps=1000)), None, "internal" if internal else "cartesian"

    return run


def saddle_table(use_xtb, use_sella):
    """Force calls, energy and independently checked order of each TS search, side by side.

    Molecules (GFN2-xTB) run every solver in internal and in Cartesian coordinates
    (TransitionState 'auto' picks internal there); LJ7 and the Cu adatom only in Cartesians
    ('auto' picks Cartesian: no covalent bonds, fixed atoms).
    """
    systems = {"LJ7 reference start": (lj7_start(), lj_calculator, 48, False),
               "Cu adatom (EMT)": (cu_start(), emt, 26, False)}
    if use_xtb:
        systems["HCN -> HNC"] = (hcn_start(), xtb_calculator, None, True)
        systems["NH3 inversion"] = (nh3_start(), xtb_calculator, None, True)
        systems["ethane rotation"] = (ethane_start(), xtb_calculator, None, True)
        systems["ethanol CH3 rotation"] = (ethanol_start(), xtb_calculator, None, True)
        systems["H2CO -> HCOH"] = (formaldehyde_start(), xtb_calculator, None, True)
    print(f"Saddle points (order 1): force calls to fmax < {FMAX:g}; molecules with GFN2-xTB; 'order' checked "
          "independently (LJ7: central-difference Hessian, molecules: imaginary frequencies by vibrations, "
          "Cu adatom: the solver's eigenvalues); dE = E - lowest E of the system's rows")
    table = {}
    for system, (start, make_calc, published, molecular) in systems.items():
        solvers = {"curvopt TransitionState auto": run_ts("auto")}
        if molecular:
            solvers["curvopt TransitionState cartesian"] = run_ts("cartesian")
        if use_sella:
            if molecular:
                solvers["Sella internal"] = run_sella_ts(True)
            solvers["Sella Cartesian"] = run_sella_ts(False)
        rows = []
        for solver, run in solvers.items():
            atoms = counted_copy(start, make_calc)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ok, order, used = run(atoms)
            calls = atoms.calc.n_evaluations  # before the checks below, which call the calculator too
            ok = ok and fmax_of(atoms) < FMAX
            energy = float(atoms.get_potential_energy())
            if system.startswith("LJ7"):
                order = order_check_lj(atoms.positions.reshape(-1))
            elif molecular:
                freqs = vibrations(atoms).frequencies
                order = int(np.count_nonzero(freqs < 0))
            rows.append((solver, used, calls, ok, energy, order))
        lowest = min(r[4] for r in rows if r[3]) if any(r[3] for r in rows) else np.nan
        pub = f"  (Sella published: {published})" if published else ""
        for solver, used, calls, ok, energy, order in rows:
            print(f"{system:<21} {solver:<34} {used:<9} {calls:>5d} {'ok' if ok else 'FAILED':>6}  "
                  f"E = {energy:>12.6f}  dE = {energy - lowest:8.1e}  order {order if order is not None else '-'}"
                  f"{pub}", flush=True)
            table[(system, solver)] = (calls, ok, order, energy)
    print()
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-xtb", action="store_true", help="skip the GFN2-xTB molecules (tblite)")
    parser.add_argument("--no-sella", action="store_true", help="do not run Sella even if installed")
    parser.add_argument("--only", choices=("minima", "saddles"))
    args = parser.parse_args(argv)
    use_xtb = not args.no_xtb
    if use_xtb:
        try:
            import tblite.ase  # noqa: F401
        except ImportError:
            print("tblite not installed: the GFN2-xTB rows are skipped (pip install tblite).\n")
            use_xtb = False
    use_sella = not args.no_sella and sella_available()
    if not use_sella:
        print("Sella not run (not installed, or --no-sella): its rows are skipped; published counts are quoted.\n")
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}\n")
    out = {}
    if args.only in (None, "minima"):
        out["minima"] = minima_table(use_xtb, use_sella)
    if args.only in (None, "saddles"):
        out["saddles"] = saddle_table(use_xtb, use_sella)
    return out


if __name__ == "__main__":
    main()
