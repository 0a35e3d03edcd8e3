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
0.1)``), Sella's README example (Cu adatom on Cu(111), EMT, bottom layers fixed), and HCN -> HNC with
GFN2-xTB; TransitionState against Sella (defaults, Cartesian).  'order' is checked independently:
LJ7 by the eigenvalues of a central-difference Hessian (rigid modes projected), HCN by
`curvopt.chem.vibrations` (imaginary frequencies), the Cu adatom by the solver's eigenvalues
(TransitionState only).  Sella's published counts: LJ7 48, Cu adatom 26.

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
from curvopt.chem.systems import cu_adatom_slab, lj13_start, lj_start  # noqa: E402
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


def counted(atoms, make_calc):
    """A copy of `atoms` with a fresh calculator whose evaluations are counted in ``atoms.calc.calls``."""
    a = atoms.copy()
    calc = make_calc()
    calc.calls = 0
    inner = calc.calculate

    def calculate(*args, **kwargs):
        calc.calls += 1
        return inner(*args, **kwargs)

    calc.calculate = calculate
    a.calc = calc
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
        assert opt.n_force_calls == atoms.calc.calls, (opt.n_force_calls, atoms.calc.calls)
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
            atoms = counted(start, make_calc)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ok, note = run(atoms)
            calls = atoms.calc.calls
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


def emt():
    from ase.calculators.emt import EMT

    return EMT()


def run_ts(atoms):
    opt = TransitionState(atoms, logfile=None)
    ok = bool(opt.run(fmax=FMAX, steps=1000))
    assert opt.n_force_calls == atoms.calc.calls, (opt.n_force_calls, atoms.calc.calls)
    return ok, opt.result.order_found


def run_sella_ts(atoms):
    from sella import Sella

    opt = Sella(atoms, order=1, internal=False, logfile=None)
    return bool(opt.run(fmax=FMAX, steps=1000)), None


def saddle_table(use_xtb, use_sella):
    systems = {"LJ7 reference start": (lj7_start(), lj_calculator, 48),
               "Cu adatom (EMT)": (cu_start(), emt, 26)}
    if use_xtb:
        systems["HCN -> HNC (GFN2-xTB)"] = (hcn_start(), xtb_calculator, None)
    solvers = {"curvopt TransitionState": run_ts}
    if use_sella:
        solvers["Sella (order 1, Cartesian)"] = run_sella_ts
    print(f"Saddle points (order 1): force calls to fmax < {FMAX:g}; 'order' checked independently where possible")
    table = {}
    for system, (start, make_calc, published) in systems.items():
        for solver, run in solvers.items():
            atoms = counted(start, make_calc)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ok, order = run(atoms)
            calls = atoms.calc.calls  # before the checks below, which call the calculator too
            ok = ok and fmax_of(atoms) < FMAX
            if system.startswith("LJ7"):
                order = order_check_lj(atoms.positions.reshape(-1))
                how = "central-difference Hessian"
            elif system.startswith("HCN"):
                order = int(np.count_nonzero(vibrations(atoms).frequencies < 0))
                how = "imaginary frequencies (vibrations)"
            else:
                how = "solver's eigenvalues" if order is not None else "not checked"
            pub = f"(Sella published: {published})" if published else ""
            print(f"{system:<23} {solver:<28} {calls:>6d} {'ok' if ok else 'FAILED':>6}  "
                  f"order {order if order is not None else '-'} [{how}]  {pub}", flush=True)
            table[(system, solver)] = (calls, ok, order)
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
