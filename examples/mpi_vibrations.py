"""Vibrational analysis with the force calls spread over MPI ranks.

Run it under ``mpi4py.futures`` (``pip install "curvopt[mpi]"`` and an MPI
runtime -- e.g. ``pip install mpich`` on Linux)::

    mpiexec -n 4 python -m mpi4py.futures examples/mpi_vibrations.py

Rank 0 runs this script; the other ranks form the pool of
`mpi4py.futures.MPIPoolExecutor` and evaluate the forces of the displaced
geometries that `curvopt.chem.vibrations` sends out together (``workers=
pool.map``).  Each task carries a pickled copy of the atoms and their
calculator, so the calculator must pickle (ASE's LennardJones does; EMT and
tblite are rebuilt from their parameters).  Under plain ``python`` the
script runs the same analysis on a local pool of 2 processes.
"""

import numpy as np

from curvopt.chem import vibrations
from curvopt.chem.systems import lj_cluster


def main(workers=2, n_atoms=13):
    """Vibrations of a relaxed LJ cluster with `workers`, checked against the serial run."""
    atoms, _ = lj_cluster(n_atoms)
    parallel = vibrations(atoms, workers=workers)
    serial = vibrations(atoms)
    same = np.array_equal(parallel.eigenvalues, serial.eigenvalues)
    print(parallel.tabulate())
    print(f"same as serial: {same}; force calls {parallel.n_force_calls} (serial {serial.n_force_calls})")
    return parallel, serial


if __name__ == "__main__":
    try:
        from mpi4py.futures import MPIPoolExecutor
        from mpi4py import MPI

        under_mpi = MPI.COMM_WORLD.Get_size() > 1
    except ImportError:  # no mpi4py, or no MPI library for it
        under_mpi = False
    if under_mpi:
        with MPIPoolExecutor() as pool:
            main(workers=pool.map)
    else:
        main(workers=2)
