"""Transition states with curvopt.chem.TransitionState: a Cu adatom hop on Cu(111) (EMT) and HCN -> HNC (GFN2-xTB).

TransitionState is an ASE optimizer for minimum-mode following with a
quasi-Newton model and a Davidson eigensolver on finite-difference force
products: curvopt.find_saddle on Cartesian coordinates, or for a molecule
curvopt.chem.internal.InternalSaddleOptimizer in internal coordinates (its
default, coordinates='auto', chooses).  The first system is Sella's README
example: a Cu adatom at the bridge site of Cu(111), bottom three layers
fixed (Cartesian).  The second is the HCN/HNC isomerization with GFN2-xTB
(internal coordinates), whose saddle point is confirmed by
curvopt.chem.vibrations: exactly one imaginary frequency.
Run:  python examples/transition_state.py
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from ase import Atoms
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms

from curvopt.chem import TransitionState, vibrations
from curvopt.chem.systems import cu_adatom_slab


def cu_adatom(fmax=1e-3, logfile="-"):
    slab, free = cu_adatom_slab()
    slab.set_constraint(FixAtoms(mask=~free))
    slab.calc = EMT()
    opt = TransitionState(slab, logfile=logfile)
    converged = opt.run(fmax=fmax, steps=500)
    print(f"Cu adatom: converged {converged} in {opt.n_force_calls} force calls ({opt.nsteps} steps); "
          f"lowest Hessian eigenvalues {np.round(opt.result.eigenvalues, 4)} eV/Å² (Sella: 26 calls)\n")
    return slab, opt, converged


def hcn_to_hnc(fmax=1e-3, logfile="-"):
    from tblite.ase import TBLite

    # a guess with the H atom bridging C and N
    atoms = Atoms("CNH", positions=[[0.0, 0.0, 0.0], [1.18, 0.0, 0.0], [0.55, 1.05, 0.0]])
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    opt = TransitionState(atoms, logfile=logfile)
    converged = opt.run(fmax=fmax, steps=200)
    vib = vibrations(atoms)
    imaginary = int(np.count_nonzero(vib.frequencies < 0))
    print(f"HCN -> HNC: converged {converged} in {opt.n_force_calls} force calls; "
          f"frequencies {np.round(vib.frequencies, 1)} cm^-1 ({imaginary} imaginary, shown negative)")
    d = atoms.get_all_distances()
    print(f"   C-H {d[0, 2]:.3f} Å, N-H {d[1, 2]:.3f} Å, C-N {d[0, 1]:.3f} Å\n")
    return atoms, opt, converged, vib


def main(xtb=True, logfile="-"):
    out = {"cu": cu_adatom(logfile=logfile)}
    if xtb:
        out["hcn"] = hcn_to_hnc(logfile=logfile)
    return out


if __name__ == "__main__":
    main()
