"""Harmonic vibrations of an ``ase.Atoms`` from Hessian-vector products of its forces.

The mass-weighted Hessian ``W = M^(-1/2) H M^(-1/2)`` (``H`` the Cartesian
Hessian of the energy in eV/Å², ``M`` the masses in amu) is never formed: a
product ``W v`` is a finite difference of the calculator's forces along the
Cartesian direction ``d = M^(-1/2) v``.  Its eigenvalues ``omega^2`` give the
harmonic frequencies, its eigenvectors the normal modes [1]_ [2]_.

References
----------
.. [1] E. B. Wilson, J. C. Decius and P. C. Cross, *Molecular Vibrations:
   The Theory of Infrared and Raman Vibrational Spectra*, McGraw-Hill (1955);
   Dover reprint (1980), chapters 2 and 4 (normal coordinates, the
   mass-weighted force-constant matrix, separation of translation and
   rotation by the Eckart conditions).
.. [2] ASE documentation, "Vibration analysis", ``ase.vibrations.Vibrations``
   and ``ase.vibrations.VibrationsData``,
   https://wiki.fysik.dtu.dk/ase/ase/vibrations/modes.html
.. [3] M. Reiher and J. Neugebauer, "A mode-selective quantum chemical method
   for tracking molecular vibrations applied to functionalized carbon
   nanotubes", J. Chem. Phys. 118, 1634 (2003) (iterative, product-based
   computation of selected normal modes).
"""

from __future__ import annotations

import copy
import math
import pickle
import sys
import threading

import numpy as np
import scipy.linalg
from ase import units
from ase.calculators.calculator import PropertyNotImplementedError
from ase.constraints import FixAtoms
from scipy.sparse.linalg import LinearOperator

from .._rigid import rigid_body_basis
from .._workers import resolve_workers
from ..eigen import eigenmodes
from ._model_modes import davidson_modes, model_mass_weighted_hessian

__all__ = ["vibrations", "VibrationsResult", "rigid_body_modes"]

# the core owns the rigid-body basis (find_saddle uses it too); re-exported here for chemists
rigid_body_modes = rigid_body_basis

# Default finite-difference steps (Euclidean norm of the whole Cartesian
# displacement, Å).  See the Notes of `vibrations`.
DEFAULT_DELTA = {"3-point": 5e-3, "2-point": 1e-4, "full": 5e-3}
# hbar * omega in eV for omega^2 in eV / (Å^2 amu): ASE's VibrationsData factor
_ENERGY_FACTOR = units._hbar * units.m / math.sqrt(units._e * units._amu)
# a frequency below -IMAGINARY_TOL cm^-1 counts as imaginary for `is_minimum`
IMAGINARY_TOL = 1.0
_WHICH = {"lowest": "smallest", "highest": "largest"}


# ----------------------------------------------------------------------------
# rigid-body modes
# ----------------------------------------------------------------------------
# forces
class _ForceTask:
    """Forces (free coordinates, flat) of `atoms` at free positions `x`: one calculator call.

    Picklable when the calculator is, so that it can run in another process;
    under threads each thread works on its own ``copy.deepcopy`` of the
    atoms and calculator (a calculator keeps state between calls).
    """

    def __init__(self, atoms, free):
        self.atoms = atoms
        self.free = free
        self._owner = threading.get_ident()
        self._copies = {}

    def __getstate__(self):
        return {"atoms": self.atoms, "free": self.free}

    def __setstate__(self, state):
        self.__init__(state["atoms"], state["free"])

    def _own_atoms(self):
        thread = threading.get_ident()
        if thread == self._owner:
            return self.atoms
        atoms = self._copies.get(thread)
        if atoms is None:
            atoms = self.atoms.copy()
            atoms.calc = copy.deepcopy(self.atoms.calc)
            self._copies[thread] = atoms
        return atoms

    def __call__(self, x):
        atoms = self._own_atoms()
        calc_name = type(atoms.calc).__name__
        pos = atoms.get_positions()
        pos[self.free] = x.reshape(-1, 3)
        atoms.set_positions(pos)
        try:
            f = atoms.get_forces()
        except PropertyNotImplementedError as err:
            raise ValueError(
                f"the calculator {calc_name} does not give forces; "
                "curvopt.chem.vibrations needs a calculator that implements 'forces'"
            ) from err
        f = np.asarray(f, dtype=float)
        if f.shape != pos.shape or not np.all(np.isfinite(f)):
            raise ValueError(
                f"the calculator {calc_name} returned forces of shape {f.shape} "
                f"(expected {pos.shape}) or non-finite values"
            )
        return f[self.free].ravel()


class _Forces:
    """Counted force calls on displaced copies of `atoms` (only free atoms move).

    With parallel `workers` the columns of a block go out together, each
    with a copy of the atoms and calculator; the calls are counted here.
    """

    def __init__(self, atoms, free, workers):
        self.n_calls = 0
        base = atoms.copy()
        base.set_constraint()  # positions are set exactly; forces read raw
        base.calc = atoms.calc
        self._serial = _ForceTask(base, free)
        workers = resolve_workers(workers)
        self.workers = workers
        self._parallel = _parallel_task(base, free, workers) if workers.parallel else None

    def __call__(self, X):
        """Forces (free coordinates) at the columns of X (Å); one call per column."""
        X = np.asarray(X, dtype=float)
        m = X.shape[1]
        self.n_calls += m
        columns = [np.ascontiguousarray(X[:, j]) for j in range(m)]
        if self._parallel is None or m == 1:
            values = [self._serial(x) for x in columns]
        else:
            values = self.workers(self._parallel, columns)
        return np.column_stack(values) if m else np.empty_like(X)


def _parallel_task(base, free, workers):
    """The force task sent to `workers`: the atoms with their calculator, or with a fresh one.

    A calculator that has computed often holds what does not pickle (EMT's
    neighbour list, tblite's library handle); then a new calculator of the
    same class and ``parameters`` is sent, each worker building its state.
    """
    from .._workers import check_picklable

    task = _ForceTask(base, free)
    if not workers.needs_pickling:
        return task
    calc = base.calc
    try:
        pickle.dumps(task)
        return task
    except Exception as first:  # noqa: BLE001 - any pickling failure
        try:
            fresh = base.copy()
            fresh.calc = type(calc)(**dict(calc.parameters))
            task = _ForceTask(fresh, free)
        except Exception:  # noqa: BLE001 - the class cannot be rebuilt from its parameters
            check_picklable(_ForceTask(base, free), f"ASE calculator ({type(calc).__name__})", workers)
            raise first from None
        check_picklable(task, f"ASE calculator ({type(calc).__name__}, rebuilt from its parameters)", workers)
        return task


class _MassWeightedProducts:
    """Products of the mass-weighted Hessian by finite differences of forces.

    For a mass-weighted vector ``v`` the Cartesian direction is
    ``d = v / sqrt(m)``; the displacement ``h d`` has Euclidean norm `delta`
    (Å), so the step is independent of the length of ``v`` and the product
    is exactly homogeneous in ``v``.
    """

    def __init__(self, forces, x0, sqrt_m, delta, scheme):
        self.forces = forces
        self.x0 = x0
        self.sm = sqrt_m
        self.delta = delta
        self.scheme = scheme
        self.g0 = None
        self.n_products = 0

    def __call__(self, V):
        V = np.asarray(V, dtype=float)
        squeeze = V.ndim == 1
        V = V.reshape(V.shape[0], -1)
        D = V / self.sm[:, None]
        norms = np.linalg.norm(D, axis=0)
        nz = norms > 0
        out = np.zeros_like(V)
        if np.any(nz):
            h = self.delta / norms[nz]
            Dn = D[:, nz]
            self.n_products += Dn.shape[1]
            if self.scheme == "3-point":
                F = self.forces(np.hstack([self.x0[:, None] + h * Dn, self.x0[:, None] - h * Dn]))
                k = Dn.shape[1]
                HD = -(F[:, :k] - F[:, k:]) / (2.0 * h)
            else:
                if self.g0 is None:
                    self.g0 = self.forces(self.x0[:, None])[:, 0]
                F = self.forces(self.x0[:, None] + h * Dn)
                HD = -(F - self.g0[:, None]) / h
            out[:, nz] = HD / self.sm[:, None]
        return out[:, 0] if squeeze else out


# ----------------------------------------------------------------------------
# result
class VibrationsResult:
    """Harmonic frequencies and normal modes computed by `vibrations`.

    Attributes
    ----------
    atoms : ase.Atoms
        A copy of the reference geometry (without calculator).
    indices : ndarray of int
        The atoms that moved (all atoms less `indices` exclusions and
        `FixAtoms`).
    eigenvalues : ndarray, shape (k,)
        Eigenvalues ``omega^2`` of the projected mass-weighted Hessian in
        eV / (Å² amu), ascending.
    mass_weighted_modes : ndarray, shape (k, 3 len(indices))
        Orthonormal eigenvectors in mass-weighted free coordinates.
    modes : ndarray, shape (k, len(atoms), 3)
        Cartesian displacement vectors of the modes (ASE's convention: the
        mass-weighted eigenvector divided by ``sqrt(m)`` per atom; zero on
        frozen atoms).
    frequencies : ndarray, shape (k,)
        Harmonic wavenumbers in cm^-1; imaginary ones as negative values.
    energies : ndarray, shape (k,)
        ``hbar omega`` in eV; imaginary ones as negative values.
    zero_point_energy : float
        ``sum(hbar omega) / 2`` over the computed real modes (eV); a lower
        bound on the zero-point energy when not all modes were computed
        (``all_modes`` False).
    all_modes : bool
        Whether every vibrational mode was computed.
    is_minimum : bool or None
        No frequency below ``-IMAGINARY_TOL`` (1 cm^-1); None when it cannot
        be told (only the highest modes of a larger set were computed).
    n_force_calls, n_products : int
        Force calls (each one calculator evaluation) and Hessian-vector
        products spent.
    n_rigid : int
        Rigid-body modes projected out (6, 5 for a linear molecule, 3 for a
        periodic cell, 0 when some atoms are frozen).
    linear : bool
        Linear molecule (from the inertia tensor).
    method, hvp : str
        How the modes were computed; `delta` the finite-difference step (Å).
    converged : bool
        All computed pairs met the eigensolver's test (always True for the
        dense methods).
    residual_norms : ndarray
        Residual norms ``||W v - omega^2 v||`` as estimated by the eigensolver
        (zeros for the dense methods).
    """

    def __init__(self, **kw):
        self.__dict__.update(kw)
        lam = self.eigenvalues
        self.energies = np.sign(lam) * _ENERGY_FACTOR * np.sqrt(np.abs(lam))
        self.frequencies = self.energies / units.invcm
        self.zero_point_energy = 0.5 * float(np.sum(self.energies[self.energies > 0]))
        n_free = len(self.indices)
        modes_free = self.mass_weighted_modes.reshape(-1, n_free, 3) / np.sqrt(self.masses)[None, :, None]
        self.modes = np.zeros((lam.size, len(self.atoms), 3))
        self.modes[:, self.indices, :] = modes_free
        if self.which == "highest" and not self.all_modes:
            self.is_minimum = None
        else:
            self.is_minimum = bool(lam.size == 0 or self.frequencies[0] > -IMAGINARY_TOL)

    # -- ASE-like accessors
    def get_frequencies(self):
        """Frequencies in cm^-1 as ASE returns them: complex, imaginary part for imaginary modes."""
        return self.get_energies() / units.invcm

    def get_energies(self):
        """``hbar omega`` in eV as ASE returns them (complex)."""
        return _ENERGY_FACTOR * self.eigenvalues.astype(complex) ** 0.5

    def tabulate(self) -> str:
        """ASE's summary table (``VibrationsData.tabulate`` format) of the computed modes."""
        lines = ["---------------------", "  #    meV     cm^-1", "---------------------"]
        for n, e in enumerate(self.energies):
            c = "i" if e < 0 else ""
            e = abs(e)
            lines.append(f"{n:3d} {e * 1e3:6.1f}{c:1s}  {e / units.invcm:7.1f}{c}")
        lines.append("---------------------")
        zpe = f"Zero-point energy: {self.zero_point_energy:.3f} eV"
        if not self.all_modes:
            zpe += f" (computed modes only: {self.eigenvalues.size} of {self.n_modes})"
        lines.append(zpe)
        lines.append(
            f"Force calls: {self.n_force_calls} ({self.method}, {self.hvp}, "
            f"{self.n_rigid} rigid-body modes projected out)"
        )
        return "\n".join(lines)

    def summary(self, log=None) -> None:
        """Write the table of `tabulate` to `log`, as ASE's ``Vibrations.summary``.

        `log` is a file object, a path to append to, or None for ``sys.stdout``.
        """
        text = self.tabulate() + "\n"
        if log is None:
            log = sys.stdout
        if isinstance(log, str):
            with open(log, "a") as fd:
                fd.write(text)
        else:
            log.write(text)

    def write_mode(self, i, filename=None, nimages=30, kT=units.kB * 300.0):
        """Write an ASE trajectory animating mode `i` (default file ``vib.{i}.traj``).

        As ``ase.vibrations.Vibrations.write_mode``: frames
        ``x0 + sin(phase) A mode`` for `nimages` phases in ``[0, 2 pi)``, with
        amplitude ``A = sqrt(kT / |hbar omega|)``.  Returns the file name.
        """
        from ase.io import Trajectory

        k = self.eigenvalues.size
        if not -k <= i < k:
            raise IndexError(f"mode {i} out of range for {k} computed modes")
        i %= k
        filename = f"vib.{i}.traj" if filename is None else str(filename)
        e = abs(self.energies[i])
        amp = math.sqrt(kT / e) if e > 0 else 1.0
        mode = self.modes[i] * amp
        with Trajectory(filename, "w") as traj:
            for phase in np.linspace(0.0, 2.0 * np.pi, nimages, endpoint=False):
                a = self.atoms.copy()
                a.positions = a.positions + math.sin(phase) * mode
                traj.write(a)
        return filename

    def hessian_2d(self) -> np.ndarray:
        """Cartesian Hessian (eV/Å², free atoms) rebuilt from the computed modes.

        ``H = M^(1/2) (sum_j omega_j^2 v_j v_j^T) M^(1/2)``: the computed modes
        with their eigenvalues, zero on the rigid-body modes and on any mode
        not computed.  Exact (up to the finite differences) when all modes
        were computed.
        """
        V = self.mass_weighted_modes
        Hw = (V.T * self.eigenvalues) @ V
        sm = np.repeat(np.sqrt(self.masses), 3)
        return sm[:, None] * Hw * sm[None, :]

    def to_vibrations_data(self):
        """The result as ``ase.vibrations.VibrationsData``, built from `hessian_2d`.

        ASE diagonalizes that Hessian again: its frequencies are ours plus
        zeros for the rigid-body modes and for modes not computed.
        """
        from ase.vibrations import VibrationsData

        return VibrationsData.from_2d(self.atoms.copy(), self.hessian_2d(), indices=list(self.indices))

    def __repr__(self):
        return (
            f"<VibrationsResult {self.atoms.get_chemical_formula()} modes={self.eigenvalues.size}/"
            f"{self.n_modes} method={self.method!r} force_calls={self.n_force_calls}>"
        )


# ----------------------------------------------------------------------------
def _free_atoms(atoms, indices):
    n = len(atoms)
    if indices is None:
        free = np.arange(n)
    else:
        free = np.unique(np.asarray(indices, dtype=int).ravel())
        if free.size == 0:
            raise ValueError("`indices` is empty: no atom would move")
        if free.min() < -n or free.max() >= n:
            raise IndexError(f"`indices` out of range for {n} atoms")
        free = np.unique(free % n)
    fixed = set()
    for c in atoms.constraints:
        if isinstance(c, FixAtoms):
            fixed.update(int(i) for i in c.get_indices())
        else:
            raise ValueError(
                f"constraint {type(c).__name__} is not supported by curvopt.chem.vibrations "
                "(only FixAtoms); remove it or pass `indices`"
            )
    free = np.array([i for i in free if i not in fixed], dtype=int)
    if free.size == 0:
        raise ValueError("no free atom: every selected atom is fixed by FixAtoms")
    return free, len(free) < n


def vibrations(
    atoms,
    *,
    k=None,
    which="lowest",
    indices=None,
    delta=None,
    hvp="3-point",
    method="auto",
    workers=None,
    tol=None,
    rng=0,
):
    """Harmonic frequencies and normal modes from the forces of an ASE calculator.

    Parameters
    ----------
    atoms : ase.Atoms
        The structure, at a stationary point (relax it tightly first: modes
        at a non-stationary point are not vibrations), with a calculator
        giving forces.  It is not modified.
    k : int, optional
        Number of modes wanted; None: all ``3N - 6`` (``3N - 5`` linear,
        ``3N - 3`` periodic, ``3 n_free`` with frozen atoms).
    which : {'lowest', 'highest'}
        Which end of the spectrum when ``k`` is less than all.
    indices : sequence of int, optional
        Only these atoms move (the others are frozen), as in ASE's
        ``Vibrations(indices=...)``.  Atoms fixed by ``ase.constraints.FixAtoms``
        are frozen too; other constraints are refused.
    delta : float, optional
        Finite-difference step in Å: the Euclidean norm of each whole
        Cartesian displacement (of each single coordinate for
        ``method='full'``).  Default 5e-3 for '3-point' and 'full', 1e-4 for
        '2-point' (see Notes).
    hvp : {'3-point', '2-point'}
        Products by central differences of forces (two force calls each,
        error ``O(delta^2)``) or forward differences reusing the forces at
        the reference geometry (one call each plus one, error ``O(delta)``).
    method : {'auto', 'davidson', 'lanczos', 'full'}
        'auto' (default): 'davidson' for a few lowest modes of a molecule,
        else 'lanczos'.  'davidson': Jacobi-Davidson on products,
        preconditioned by the Lindh model Hessian of the molecule's bonds,
        bends and torsions (`curvopt.chem._model_modes`; molecules only, see
        `curvopt.chem.internal.choose_coordinates`): the fewest force calls
        for a few low modes.
        'lanczos': modes of the mass-weighted Hessian from products --
        thick-restart Lanczos (`curvopt.eigenmodes`) with the rigid-body
        modes deflated when ``k`` is less than half the modes, else the
        dense Hessian in the orthogonal complement of the rigid-body modes
        from one product per direction (see Notes).  'full': the full
        Cartesian Hessian by central differences (``6 n_free`` calls, as
        ASE), for comparison.
    workers : None, int or map-like callable, optional
        Where the force calls of independent displacements run: an int
        starts that many local processes for this call (-1: one per CPU); a
        map-like callable is used as is -- ``executor.map`` of a
        ``concurrent.futures`` executor (a ``ThreadPoolExecutor`` gives each
        thread a ``copy.deepcopy`` of the calculator), ``dask.distributed``'s
        ``Client.get_executor().map``, ``mpi4py.futures.MPIPoolExecutor().map``
        (see `curvopt._workers` for ``mpiexec``).  Each task gets a copy of
        the atoms and calculator, which must pickle; a calculator that does
        not after computing (EMT, tblite) is sent as a new one built from its
        ``parameters``.  The dense and 'full' methods send all displacements
        of the Hessian at once.  'lanczos' sends the two force calls of a
        central product together and, with more workers than that (a
        map-like counts as 4), runs block Lanczos with enough products per
        block to give each worker a call; block Lanczos results agree with
        the serial ones to `tol` rather than bitwise (with 2 workers and
        '3-point' they are the serial ones).  Force calls are counted here,
        exactly.
    tol : float, optional
        Stopping tolerance of the eigensolver, a normwise backward error
        ``||W x - lambda x|| <= tol ||W||``.  Default 1e-6 for 'lanczos'
        and 1e-5 for 'davidson': with the model's start and preconditioner
        the Davidson residuals fall fast, and at 1e-5 the eigenvalues are
        already far more accurate than the finite differences that make the
        products (on C16H34 the frequencies move by 1e-4 cm^-1 from 1e-5 to
        1e-7, while halving `delta` moves them by 1e-2 cm^-1).
    rng : None, int or numpy.random.Generator
        Seed of the Lanczos start and probe vectors.

    Returns
    -------
    VibrationsResult
        Frequencies (cm^-1), energies (eV), normal modes, zero-point energy,
        ``is_minimum``, ``n_force_calls``, ``summary()``, ``write_mode()``,
        ``to_vibrations_data()``.

    Raises
    ------
    ValueError
        No calculator, a calculator without forces, zero / negative /
        non-finite masses of moving atoms, `k` out of range, unsupported
        constraints or options.

    Notes
    -----
    **Operator.**  With ``x`` the free Cartesian coordinates (Å), ``F(x)``
    the forces (eV/Å) and ``M`` the masses (amu), the mass-weighted Hessian
    is ``W = M^(-1/2) H M^(-1/2)`` (eV / (Å² amu)), and ``W v`` is
    ``-(F(x0 + h d) - F(x0 - h d)) / (2 h) / sqrt(m)`` with ``d = v /
    sqrt(m)`` and ``h = delta / ||d||``: every displacement has Euclidean
    length `delta`.  ASE displaces single coordinates by 0.01 Å [2]_.  The
    default 5e-3 Å balances the central-difference truncation error (about
    4e-5 relative on GFN2-xTB benzene) against SCF noise in the forces
    (``F`` noise ``e`` gives an error ``e / delta``); with tblite, tighten its
    SCF (``TBLite(accuracy=1e-3)`` or less) for this step.  Forward
    differences have an ``O(delta)`` error (about ``3 delta`` relative for
    stiff bonds), so their default 1e-4 Å wants accurate forces (analytic
    potentials, or a tight SCF).

    **Rigid-body modes.**  When every atom moves, the translations and
    rotations (Eckart conditions, [1]_ Sec. 11-1; 6 modes, 5 for a linear
    molecule detected from a zero principal moment of inertia) are projected
    out: the eigensolver works on ``P W P`` in the complement (its
    ``deflate``), and the ``3N - 6`` vibrational modes are returned.  For a
    periodic cell (``atoms.pbc.any()``) only the three translations are
    projected (rotating a crystal is not a symmetry).  With frozen atoms
    (`indices`, ``FixAtoms``) nothing is projected: the frozen atoms break
    the invariance.

    **Cost.**  Few low modes: Lanczos on products, about 2 force calls per
    product for '3-point' -- the basis and checks typically cost a few
    products per mode plus a few tens.  All (or most) modes: a Krylov
    basis would fill the whole space anyway, so products along an
    orthonormal basis ``Q`` of the ``n_modes``-dimensional complement give
    the projected Hessian ``Q^T W Q`` exactly (symmetrized), at ``n_modes``
    products: ``2 (3N - 6)`` calls for '3-point' and ``3N - 5`` for
    '2-point' -- against ``6N + 1`` for ASE's Vibrations.  The forward
    differences trade an ``O(delta)`` error for half the calls.

    **Conversions** are ASE's ``VibrationsData``: ``hbar omega = hbar
    sqrt(omega^2)`` with ``omega^2`` in eV/(Å² amu) converted by
    ``units._hbar * units.m / sqrt(units._e * units._amu)``; wavenumbers are
    energies over ``units.invcm``; the Cartesian mode is the mass-weighted
    eigenvector divided by ``sqrt(m)`` per atom.

    References
    ----------
    .. [1] E. B. Wilson, J. C. Decius and P. C. Cross, *Molecular Vibrations*,
       McGraw-Hill (1955).
    .. [2] ASE, ``ase.vibrations.Vibrations`` and ``VibrationsData``,
       https://wiki.fysik.dtu.dk/ase/ase/vibrations/modes.html
    .. [3] M. Reiher and J. Neugebauer, J. Chem. Phys. 118, 1634 (2003).

    Examples
    --------
    >>> from ase.build import molecule
    >>> from ase.calculators.emt import EMT
    >>> from curvopt.chem import vibrations
    >>> atoms = molecule("N2"); atoms.calc = EMT()
    >>> res = vibrations(atoms)   # doctest: +SKIP
    """
    # ---- validate
    if atoms.calc is None:
        raise ValueError("`atoms` has no calculator: attach one (atoms.calc = ...) that gives forces")
    props = getattr(atoms.calc, "implemented_properties", None)
    if props is not None and "forces" not in props:
        raise ValueError(
            f"the calculator {type(atoms.calc).__name__} does not implement 'forces' "
            f"(implemented: {list(props)}); curvopt.chem.vibrations needs forces"
        )
    if hvp not in ("3-point", "2-point"):
        raise ValueError(f"`hvp` must be '3-point' or '2-point'; got {hvp!r}")
    if method not in ("auto", "davidson", "lanczos", "full"):
        raise ValueError(f"`method` must be 'auto', 'davidson', 'lanczos' or 'full'; got {method!r}")
    if which not in _WHICH:
        raise ValueError(f"`which` must be 'lowest' or 'highest'; got {which!r}")
    free, frozen = _free_atoms(atoms, indices)
    masses_all = atoms.get_masses()
    masses = np.asarray(masses_all[free], dtype=float)
    bad = ~np.isfinite(masses) | (masses <= 0)
    if np.any(bad):
        raise ValueError(
            f"atoms {free[bad].tolist()} have zero, negative or missing masses {masses[bad].tolist()}; "
            "set them with atoms.set_masses()"
        )
    if delta is None:
        delta = DEFAULT_DELTA["full" if method == "full" else hvp]
    delta = float(delta)
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"`delta` must be a positive step in Å; got {delta!r}")

    pbc = bool(np.any(atoms.pbc))
    if frozen:
        R, linear = np.zeros((3 * free.size, 0)), False
    else:
        R, linear = rigid_body_modes(atoms.positions, masses, pbc=pbc)
    dim = 3 * free.size
    n_modes = dim - R.shape[1]
    if k is None:
        k = n_modes
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"`k` must be an int or None; got {type(k).__name__}")
    if not 0 < k <= n_modes:
        raise ValueError(
            f"k={k} is out of range: {atoms.get_chemical_formula()} has {n_modes} vibrational modes "
            f"({dim} free coordinates less {R.shape[1]} rigid-body modes)"
        )

    W_model = None
    if method in ("auto", "davidson") and 2 * k < n_modes:
        if which == "lowest":
            W_model = model_mass_weighted_hessian(atoms, free, np.repeat(np.sqrt(masses), 3))
        if method == "davidson" and W_model is None:
            raise ValueError("method='davidson' needs the lowest modes (which='lowest') of a molecule (bonds "
                             "between covalent elements, no periodic cell): its preconditioner is a model of "
                             "bonds, bends and torsions; use method='lanczos'")
    method = "davidson" if W_model is not None else ("lanczos" if method == "auto" else method)
    if tol is None:
        tol = 1e-5 if method == "davidson" else 1e-6
    if not (np.isfinite(tol) and 0 < tol < 1):
        raise ValueError(f"`tol` must be in (0, 1); got {tol!r}")

    with resolve_workers(workers) as mapper:
        return _vibrations(atoms, k, which, delta, hvp, method, mapper, tol, rng, free, masses, R, linear,
                           n_modes, dim, W_model)


def _vibrations(atoms, k, which, delta, hvp, method, workers, tol, rng, free, masses, R, linear, n_modes, dim,
                W_model=None):
    forces = _Forces(atoms, free, workers)
    x0 = atoms.positions[free].ravel().astype(float)
    sm = np.repeat(np.sqrt(masses), 3)
    Q = scipy.linalg.null_space(R.T) if R.shape[1] else np.eye(dim)
    residual_norms = None
    converged = True

    if method == "full":
        F = forces(np.hstack([x0[:, None] + delta * np.eye(dim), x0[:, None] - delta * np.eye(dim)]))
        Fp, Fm = F[:, :dim], F[:, dim:]
        Hc = -(Fp - Fm) / (2 * delta)  # column j: dF/dx_j
        Hc = 0.5 * (Hc + Hc.T)
        Wq = Q.T @ (Hc / sm[:, None] / sm[None, :]) @ Q
        n_products = 0
        lam, S = _select(Wq, k, which)
        V = Q @ S
        used = "full"
    else:
        products = _MassWeightedProducts(forces, x0, sm, delta, hvp)
        if 2 * k >= n_modes:
            HQ = products(Q)
            Wq = Q.T @ HQ
            Wq = 0.5 * (Wq + Wq.T)
            lam, S = _select(Wq, k, which)
            V = Q @ S
            used = "dense"
        elif W_model is not None:
            lam, V, residual_norms, converged = davidson_modes(products, W_model, Q, R, k, tol,
                                                               max_products=n_modes)
            used = "davidson"
        else:
            op = LinearOperator((dim, dim), matvec=products, matmat=products, dtype=float)
            # enough force calls per round to keep every worker busy: a central product is two
            # independent calls already, so with 2 workers plain Lanczos stays (the serial run, bitwise);
            # beyond that, block Lanczos (a map-like of unknown size counts as 4 workers)
            calls_per_product = 2 if hvp == "3-point" else 1
            n_workers = (workers.n_workers or 4) if workers.parallel else 1
            block = -(-n_workers // calls_per_product)
            res = eigenmodes(
                op,
                k=k,
                which=_WHICH[which],
                tol=tol,
                deflate=R if R.shape[1] else None,
                rng=rng,
                block_size=max(1, min(block, (n_modes - k) // 2)),
            )
            lam = np.asarray(res.eigenvalues)
            V = np.asarray(res.eigenvectors)
            residual_norms = np.asarray(res.residual_norms)
            converged = bool(np.all(res.converged))
            used = "lanczos"
        n_products = products.n_products
    order = np.argsort(lam)
    lam, V = lam[order], V[:, order]
    if residual_norms is None:
        residual_norms = np.zeros(lam.size)
    else:
        residual_norms = residual_norms[order]
    ref = atoms.copy()
    ref.calc = None
    return VibrationsResult(
        atoms=ref,
        indices=free,
        masses=masses,
        eigenvalues=lam,
        mass_weighted_modes=np.ascontiguousarray(V.T),
        n_force_calls=forces.n_calls,
        n_products=n_products,
        n_rigid=R.shape[1],
        n_modes=n_modes,
        all_modes=(k == n_modes),
        linear=linear,
        method=used,
        hvp="3-point" if method == "full" else hvp,
        delta=delta,
        which=which,
        converged=converged,
        residual_norms=residual_norms,
    )


def _select(W, k, which):
    lam, S = np.linalg.eigh(W)
    if which == "lowest":
        return lam[:k], S[:, :k]
    return lam[-k:], S[:, -k:]
