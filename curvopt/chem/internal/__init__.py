"""Geometry optimization of molecules in redundant internal coordinates.

For a molecule, bonds, bends and torsions separate stiff from soft motions
that Cartesian coordinates mix, and a model Hessian per internal (Lindh 1995)
knows the stiffness before the first force call; a quasi-Newton method then
needs a fraction of the force calls of a Cartesian one.  Public names:

`InternalCoordinateOptimizer`
    The engine, reverse-communication: ``new_positions = engine.step(positions,
    energy, forces)``, one call per force evaluation (fits an ASE
    ``Optimizer.step``).
`optimize_internal`
    A driver: relax an ``ase.Atoms`` with its calculator to ``fmax``.
`InternalSaddleOptimizer`
    The same for saddle points (transition states): Davidson lowest modes
    from finite-difference force products, P-RFO steps (``TransitionState``).
`choose_coordinates`
    ``'internal'`` for molecules, ``'cartesian'`` for periodic cells,
    clusters without covalent bonds (Lennard-Jones, metals) and huge systems.
`InternalCoordinates`, `model_hessian`
    The coordinate machinery (B-matrix, generalized inverse,
    back-transformation) and the model Hessians.
"""

from ._coordinates import InternalCoordinates, bond_graph
from ._driver import InternalResult, choose_coordinates, optimize_internal
from ._engine import InternalCoordinateOptimizer, rfo_step, trust_region_step
from ._model_hessian import model_hessian
from ._saddle import InternalSaddleOptimizer

__all__ = [
    "InternalCoordinateOptimizer",
    "InternalSaddleOptimizer",
    "optimize_internal",
    "choose_coordinates",
    "InternalResult",
    "InternalCoordinates",
    "bond_graph",
    "model_hessian",
    "trust_region_step",
    "rfo_step",
]
