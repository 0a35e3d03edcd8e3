"""Molecular geometry optimization with GFN2-xTB: force calls to ASE's fmax, curvopt internal vs the tools people use.

Starts (those of the reference runs): ``ase.build.molecule('CH3CH2OH' |
'C6H6' | 'trans-butane')``, ibuprofen and caffeine from ``benchmarks/data/``
(or the folder given by ``--data`` / ``CURVOPT_DATA``), each perturbed by
``numpy.random.default_rng(1).normal(0, 0.05, positions.shape)`` Å.
Calculator: ``tblite.ase.TBLite(method='GFN2-xTB', verbosity=0)``.

A run counts force calls (one energy+forces evaluation each) until the first
evaluation whose largest per-atom force is below ``fmax``; that evaluation
ends the run for every optimizer alike (the counting calculator raises), so
optimizers with other stopping rules (geomeTRIC, scipy) are counted on the
same criterion.  The energy there is compared with the lowest final energy of
the row ("dE").  ``--ablation`` also runs curvopt's engine with its choices
switched off one at a time (model Hessian, update, step kind).

Run with one BLAS thread (counts of BFGS-type methods depend on it)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_molecules.py [--fmax 1e-3] [--ablation]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from ase.build import molecule
from ase.calculators.calculator import Calculator, all_changes
from ase.io import read, write

HERE = Path(__file__).resolve().parent
TARGETS = {"ethanol": 11, "benzene": 11, "trans-butane": 11, "ibuprofen": 17}
REFERENCE_GEOMETRIC = {"ethanol": 15, "benzene": 11, "trans-butane": 11, "ibuprofen": 23}


class Converged(Exception):
    """Raised by the counting calculator at the first evaluation below fmax."""


class Counting(Calculator):
    """Wraps a calculator: counts energy+forces evaluations, stops the run at fmax."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, inner, fmax, limit):
        super().__init__()
        self.inner, self.fmax, self.limit = inner, fmax, limit
        self.n_calls = 0
        self.last = None

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        a = self.atoms.copy()
        a.calc = self.inner
        e = a.get_potential_energy()
        f = a.get_forces()
        self.n_calls += 1
        self.results = {"energy": e, "forces": f}
        fm = float(np.sqrt((f**2).sum(axis=1)).max())
        self.last = (e, fm, a.positions.copy())
        if fm < self.fmax or self.n_calls >= self.limit:
            raise Converged


def start(name, data):
    ase_name = {"ethanol": "CH3CH2OH", "benzene": "C6H6", "trans-butane": "trans-butane"}.get(name)
    a = molecule(ase_name) if ase_name else read(data / f"{name}.xyz")
    a.positions = a.positions + np.random.default_rng(1).normal(0, 0.05, a.positions.shape)
    return a


def tblite():
    from tblite.ase import TBLite

    return TBLite(method="GFN2-xTB", verbosity=0)


# ---------------------------------------------------------------- optimizers
def run_curvopt(atoms, fmax, **options):
    from curvopt.chem.internal import InternalCoordinateOptimizer

    engine = InternalCoordinateOptimizer(atoms, **options)
    while True:
        e, f = atoms.get_potential_energy(), atoms.get_forces()
        atoms.positions = engine.step(atoms.positions, e, f)


def run_ase(cls, **kw):
    def run(atoms, fmax):
        cls(atoms, logfile=None, **kw).run(fmax=fmax * 1e-3, steps=100000)

    return run


def run_precon(atoms, fmax):
    from ase.optimize.precon import Exp, PreconLBFGS

    atoms.cell = [30.0, 30.0, 30.0]  # Exp needs a cell; pbc stays False
    atoms.center()
    PreconLBFGS(atoms, precon=Exp(), use_armijo=True, logfile=None).run(fmax=fmax * 1e-3, steps=100000)


def run_sella(internal):
    def run(atoms, fmax):
        from sella import Sella

        Sella(atoms, order=0, internal=internal, logfile=None, trajectory=None).run(fmax=fmax * 1e-3, steps=100000)

    return run


def run_lbfgsb(atoms, fmax):
    from scipy.optimize import minimize

    def fg(x):
        atoms.positions = x.reshape(-1, 3)
        return atoms.get_potential_energy(), -atoms.get_forces().ravel()

    minimize(fg, atoms.positions.ravel(), jac=True, method="L-BFGS-B",
             options=dict(gtol=0.0, ftol=0.0, maxiter=100000, maxfun=100000))


def run_geometric(atoms, fmax):
    from geometric.ase_engine import EngineASE
    from geometric.molecule import Molecule
    from geometric.optimize import run_optimizer

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "start.xyz")
        write(path, atoms)
        M = Molecule(path)
        engine = EngineASE(M, atoms.calc)
        run_optimizer(customengine=engine, input=path, prefix=os.path.join(tmp, "run"),
                      coordsys="tric", convergence_set="GAU_VERYTIGHT", maxiter=100000)


def optimizers(ablation):
    table = {
        "curvopt internal": lambda a, f: run_curvopt(a, f),
        "geomeTRIC (TRIC)": run_geometric,
        "Sella internal": run_sella(True),
        "Sella Cartesian": run_sella(False),
        "ASE BFGS": None,
        "ASE PreconLBFGS (Exp)": run_precon,
        "scipy L-BFGS-B": run_lbfgsb,
    }
    from ase.optimize import BFGS

    table["ASE BFGS"] = run_ase(BFGS)
    if ablation:
        table["curvopt, 'simple' Hessian"] = lambda a, f: run_curvopt(a, f, hessian="simple")
        table["curvopt, unit Hessian"] = lambda a, f: run_curvopt(a, f, hessian="unit")
        table["curvopt, Bofill update"] = lambda a, f: run_curvopt(a, f, update="bofill")
        table["curvopt, no update"] = lambda a, f: run_curvopt(a, f, update="none")
        table["curvopt, RFO step"] = lambda a, f: run_curvopt(a, f, step="rfo")
        table["curvopt, radius 0.1"] = lambda a, f: run_curvopt(a, f, trust_radius=0.1)
        table["curvopt, 3 FD probes"] = lambda a, f: run_curvopt(a, f, probes=3)
    return table


def measure(run, atoms, fmax, limit):
    calc = Counting(tblite(), fmax, limit)
    atoms = atoms.copy()
    atoms.calc = calc
    t = time.perf_counter()
    converged = False
    try:
        # geomeTRIC logs to the root logger (and installs handlers on it); PreconLBFGS's line search
        # logs every trial; keep the table readable
        logging.disable(logging.CRITICAL)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            run(atoms, fmax)
    except Converged:
        converged = calc.last[1] < fmax
    except Exception as err:  # noqa: BLE001 - a failing third-party optimizer is a table entry, not a crash
        return dict(calls=calc.n_calls, energy=np.nan, converged=False, note=type(err).__name__, time=0.0)
    finally:
        logging.disable(logging.NOTSET)
    # an optimizer that stops by itself before fmax is not converged on this criterion
    e = calc.last[0] if calc.last else np.nan
    return dict(calls=calc.n_calls, energy=e, converged=converged, note="", time=time.perf_counter() - t)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fmax", type=float, default=1e-3)
    p.add_argument("--limit", type=int, default=1000, help="force calls before a run counts as failed")
    p.add_argument("--data", default=os.environ.get("CURVOPT_DATA", str(HERE / "data")))
    p.add_argument("--molecules", default="ethanol,benzene,trans-butane,ibuprofen,caffeine")
    p.add_argument("--only", default=None, help="comma-separated optimizer names (substring match)")
    p.add_argument("--ablation", action="store_true")
    p.add_argument("--verify", action="store_true",
                   help="check the curvopt minimum by curvopt.chem.vibrations (lowest frequency)")
    args = p.parse_args(argv)
    data = Path(args.data)
    names = args.molecules.split(",")
    table = optimizers(args.ablation)
    if args.only:
        keep = [s.strip().lower() for s in args.only.split(",")]
        table = {k: v for k, v in table.items() if any(s in k.lower() for s in keep)}
    print(f"GFN2-xTB (tblite), force calls to fmax < {args.fmax:g} eV/Å; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    results = {}
    for name in names:
        a0 = start(name, data)
        for opt, run in table.items():
            results[name, opt] = measure(run, a0, args.fmax, args.limit)
    for name in names:
        best = np.nanmin([results[name, o]["energy"] for o in table if results[name, o]["converged"]] or [np.nan])
        results[name, "best"] = best
    w = max(len(o) for o in table) + 2
    print("\n" + "optimizer".ljust(w) + "".join(f"{n:>22s}" for n in names))
    print("-" * (w + 22 * len(names)))
    for opt in table:
        cells = []
        for name in names:
            r = results[name, opt]
            if r["converged"]:
                de = r["energy"] - results[name, "best"]
                cells.append(f"{r['calls']:5d} dE {de:8.1e}".rjust(22))
            else:
                cells.append(f"{r['calls']:5d} FAIL {r['note']}"[:21].rjust(22))
        print(opt.ljust(w) + "".join(cells))
    print("target (issue 9)".ljust(w) + "".join(f"{TARGETS.get(n, '-'):>22}" for n in names))
    print("geomeTRIC, REFERENCE.md".ljust(w) + "".join(f"{REFERENCE_GEOMETRIC.get(n, '-'):>22}" for n in names))
    print("\ndE: final energy minus the lowest final energy among converged runs (eV); "
          "the same minimum means |dE| < 1e-5.")
    print("final energies (eV): " + ", ".join(f"{n} {results[n, 'best']:.6f}" for n in names))
    if args.verify:
        from curvopt.chem import vibrations
        from curvopt.chem.internal import optimize_internal

        for name in names:
            a = start(name, data)
            a.calc = tblite()
            r = optimize_internal(a, fmax=args.fmax)
            v = vibrations(a)
            print(f"{name}: curvopt {r.n_force_calls} calls, E {r.energy:.6f}; vibrations "
                  f"({v.n_force_calls} calls): lowest {v.frequencies[:3].round(1)} cm^-1, minimum {v.is_minimum}")
    return results


if __name__ == "__main__":
    sys.exit(main() and 0)
