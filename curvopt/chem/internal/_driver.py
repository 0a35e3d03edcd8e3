"""`optimize_internal` (a driver around the engine) and `choose_coordinates` (internals or Cartesians)."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import PropertyNotImplementedError
from ase.data import chemical_symbols

from ._coordinates import bond_graph
from ._engine import InternalCoordinateOptimizer

__all__ = ["optimize_internal", "choose_coordinates", "InternalResult"]

# elements whose bonding is covalent (H, B-F, Si-Cl, Ge-Br, Sb-I): a bond between two of them makes a molecule
_COVALENT = {1, 5, 6, 7, 8, 9, 14, 15, 16, 17, 32, 33, 34, 35, 51, 52, 53}
# beyond this many atoms the dense O(N^3) linear algebra of redundant internals costs more than it saves
MAX_INTERNAL_ATOMS = 500


def choose_coordinates(atoms) -> str:
    """'internal' for a molecule, 'cartesian' for periodic solids, clusters without covalent bonds and huge systems.

    Rules, in order: any periodic direction -> 'cartesian' (internals of a
    cell are not implemented); more than ``MAX_INTERNAL_ATOMS`` atoms ->
    'cartesian'; no bond between two covalent-bonding elements (H, C, N, O,
    halogens, ...), e.g. a Lennard-Jones argon cluster or a metal cluster ->
    'cartesian', where bends and torsions carry no stiffness contrast;
    otherwise 'internal'.
    """
    if np.any(atoms.pbc):
        return "cartesian"
    n = len(atoms)
    if n < 2 or n > MAX_INTERNAL_ATOMS:
        return "cartesian"
    z = atoms.get_atomic_numbers()
    pairs = bond_graph(z, atoms.positions)
    covalent = np.array([zz in _COVALENT for zz in z])
    if pairs.size == 0 or not np.any(covalent[pairs[:, 0]] & covalent[pairs[:, 1]]):
        return "cartesian"
    return "internal"


class InternalResult(dict):
    """Outcome of `optimize_internal` (a dict with attribute access).

    Keys: ``success`` (converged to `fmax`), ``message``, ``energy`` (eV),
    ``positions`` (Å), ``fmax`` (final largest per-atom force),
    ``n_force_calls`` (also ``nfev`` and ``njev``: one call gives both),
    ``nit``, ``n_rejected``, ``n_rebuilds``, ``energy_history``,
    ``fmax_history``; with ``verify=True`` also ``is_minimum``,
    ``lowest_frequency`` (cm^-1, negative for imaginary) and
    ``n_verify_force_calls`` (spent on the check, not counted in
    ``n_force_calls``).
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(name) from err

    def __repr__(self):
        keys = ("success", "energy", "fmax", "n_force_calls", "n_rejected", "is_minimum")
        return "InternalResult(" + ", ".join(f"{k}={self[k]!r}" for k in keys if k in self) + ")"


def optimize_internal(atoms, fmax=1e-3, steps=500, *, verify=False, **options):
    """Minimize the energy of a molecule in redundant internal coordinates.

    Parameters
    ----------
    atoms : ase.Atoms
        The molecule with a calculator giving energy and forces; its positions
        are updated in place to the final (best) point.
    fmax : float
        Converged when the largest per-atom force norm is below this (eV/Å),
        ASE's criterion.
    steps : int
        Largest number of force calls.
    verify : bool
        After convergence, check for imaginary modes with
        `curvopt.chem.vibrations` (its force calls are reported separately).
    **options
        Passed to `InternalCoordinateOptimizer` (``trust_radius``,
        ``hessian``, ``update``, ``step``, ``maxstep``, ...).

    Returns
    -------
    InternalResult
    """
    if atoms.calc is None:
        raise ValueError("`atoms` has no calculator: attach one that gives energy and forces")
    if not (isinstance(steps, (int, np.integer)) and steps >= 1):
        raise ValueError(f"`steps` must be a positive integer; got {steps!r}")
    if atoms.constraints:
        raise ValueError("`atoms` has constraints: optimize_internal does not handle them yet; remove them")
    engine = InternalCoordinateOptimizer(atoms, fmax=fmax, **options)
    for _ in range(steps):
        try:
            energy = atoms.get_potential_energy()
            forces = atoms.get_forces()
        except PropertyNotImplementedError as err:
            raise ValueError(
                f"the calculator {type(atoms.calc).__name__} does not give energy and forces"
            ) from err
        new = engine.step(atoms.positions, energy, forces)
        if engine.converged:
            break
        atoms.positions = new
    if not engine.converged:
        atoms.positions = engine.positions
    fm = float(np.sqrt((engine.forces**2).sum(axis=1)).max())
    res = InternalResult(
        success=bool(engine.converged),
        message="converged: largest force below fmax" if engine.converged
        else f"stopped after {steps} force calls without reaching fmax={fmax}",
        energy=float(engine.energy),
        positions=engine.positions.copy(),
        fmax=fm,
        n_force_calls=engine.n_force_calls,
        nfev=engine.n_force_calls,
        njev=engine.n_force_calls,
        nit=engine.n_force_calls,
        n_rejected=engine.n_rejected,
        n_rebuilds=engine.n_rebuilds,
        n_primitives=engine.coords.n_primitives,
        energy_history=list(engine.energy_history),
        fmax_history=list(engine.fmax_history),
        formula=atoms.get_chemical_formula() if hasattr(atoms, "get_chemical_formula")
        else "".join(chemical_symbols[z] for z in engine.numbers),
    )
    if verify:
        from ..vibrations import vibrations

        vib = vibrations(atoms, k=1)
        res.update(is_minimum=bool(vib.is_minimum), lowest_frequency=float(vib.frequencies[0]),
                   n_verify_force_calls=int(vib.n_force_calls))
    return res
