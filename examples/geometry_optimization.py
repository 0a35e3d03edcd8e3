"""Geometry optimization with curvopt.chem.TrustNewton, side by side with ASE's BFGS.

TrustNewton is an ASE optimizer (``run``, ``irun``, ``attach``, log lines,
trajectories) whose steps come from curvopt's trust-region quasi-Newton
method; it stops on ASE's own test (largest force < fmax).  Two systems with
real calculators: the 13-atom Lennard-Jones cluster (ASE's LennardJones) and
ethanol with GFN2-xTB (tblite), the latter verified to be a minimum at the
end (no negative curvature, from finite-difference force products).
Run:  python examples/geometry_optimization.py
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from ase.build import molecule
from ase.calculators.lj import LennardJones
from ase.optimize import BFGS

from curvopt.chem import TrustNewton
from curvopt.chem.systems import counted, lj13_start


def relax(atoms, make_calc, optimizer, fmax, **kwargs):
    atoms = atoms.copy()
    atoms.calc = counted(make_calc())
    opt = optimizer(atoms, **kwargs)
    converged = opt.run(fmax=fmax, steps=2000)
    return atoms, opt, converged


def main(fmax=1e-3, xtb=True, logfile="-"):
    systems = {"LJ13": (lj13_start(), lambda: LennardJones(epsilon=1.0, sigma=1.0, rc=10.0), {})}
    if xtb:
        from tblite.ase import TBLite

        ethanol = molecule("CH3CH2OH")
        ethanol.positions += np.random.default_rng(1).normal(0, 0.05, ethanol.positions.shape)
        systems["ethanol (GFN2-xTB)"] = (ethanol, lambda: TBLite(method="GFN2-xTB", verbosity=0),
                                         {"verify": True})
    rows = {}
    for name, (start, make_calc, options) in systems.items():
        print(f"== {name}: curvopt.chem.TrustNewton")
        ours, opt, ok = relax(start, make_calc, TrustNewton, fmax, logfile=logfile, **options)
        theirs, _, ok_ase = relax(start, make_calc, BFGS, fmax, logfile=None)
        calls, ase_calls = ours.calc.n_evaluations, theirs.calc.n_evaluations
        print(f"TrustNewton: converged {ok}, {calls} force calls (opt.n_force_calls = {opt.n_force_calls}), "
              f"E = {ours.get_potential_energy():.6f} eV")
        if options.get("verify"):
            print(f"   verified minimum: {opt.result.is_local_minimum} (lowest mode "
                  f"{opt.result.lowest_frequency:.1f} cm^-1; the check took {opt.vibrations.n_force_calls} of the calls)")
        print(f"ASE BFGS:    converged {ok_ase}, {ase_calls} force calls, E = {theirs.get_potential_energy():.6f} eV\n")
        rows[name] = dict(converged=ok, calls=calls, energy=ours.get_potential_energy(), opt=opt,
                          ase_converged=ok_ase, ase_calls=ase_calls, ase_energy=theirs.get_potential_energy())
    return rows


if __name__ == "__main__":
    main()
