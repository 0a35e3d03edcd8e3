"""Vibrational frequencies of water and ethanol with GFN2-xTB: curvopt.chem.vibrations beside ASE.

curvopt computes the modes from Hessian-vector products of the mass-weighted
Hessian with the rigid-body modes projected out (2 (3N - 6) force calls for
all modes); ASE's Vibrations displaces every Cartesian coordinate both ways
(6N + 1 calls).  Run:  python examples/vibrations.py
"""

import os
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from ase.build import molecule
from ase.vibrations import Vibrations
from tblite.ase import TBLite

from curvopt.chem import vibrations
from curvopt.chem.systems import counted, relax


def main(names=("H2O", "CH3CH2OH")):
    rows = {}
    for name in names:
        atoms = molecule(name)
        atoms.calc = TBLite(method="GFN2-xTB", verbosity=0, accuracy=1e-3)  # tight SCF for finite differences
        relax(atoms, fmax=1e-5)
        res = vibrations(atoms)
        calc = counted(TBLite(method="GFN2-xTB", verbosity=0, accuracy=1e-3))
        atoms.calc = calc
        with tempfile.TemporaryDirectory() as tmp:
            vib = Vibrations(atoms, name=os.path.join(tmp, "vib"))
            vib.run()
            ase_freq = vib.get_frequencies()
            print(f"== {name}: curvopt.chem.vibrations ({res.n_force_calls} force calls)")
            res.summary()
            print(f"== {name}: ase.vibrations.Vibrations ({calc.n_evaluations} force calls)")
            vib.summary()
        ase_real = np.sort(np.abs(ase_freq))[6:]  # drop the six near-zero rigid-body modes
        diff = np.max(np.abs(np.sort(res.frequencies) - ase_real))
        print(f"max |curvopt - ASE| = {diff:.2f} cm^-1\n")
        rows[name] = (res, ase_freq, calc.n_evaluations)
    return rows


if __name__ == "__main__":
    main()
