"""ASE optimizers on curvopt's solvers: `TrustNewton` (minima) and `TransitionState` (saddle points).

Both are subclasses of ASE's ``Optimizer``: ``run(fmax, steps)``, ``irun``,
``attach``, ``nsteps``, log lines and trajectories behave as with ASE's
``BFGS``, and convergence is ASE's own test (the largest force on a free atom
below ``fmax``).

How a pull-based solver becomes a step-driven ASE optimizer
-----------------------------------------------------------
curvopt's solvers (`curvopt.minimize`, `curvopt.find_saddle`) drive their own
loop: they ask for energies and gradients where they need them and report each
accepted iterate to a callback.  ASE's ``irun`` instead calls ``step()`` once
per iteration and reads the forces at the atoms' positions in between.  The
solver therefore runs in a worker thread whose oracle hands every requested
point to the main thread through a pair of one-slot queues (`_SolverThread`):
``step()`` serves those requests with the user's calculator (positions set,
energy and forces read, every calculator call counted) until the solver's
callback reports an accepted iterate, and leaves the atoms there.  Only one of
the two threads runs at any time, so the calculator is only ever used from the
main thread, as ASE expects.  The worker is stopped cleanly (its callback
raises `StopIteration`, or its oracle raises an exception no solver catches)
when a run ends, early or not, when the optimizer is closed, and when it is
garbage-collected; it is a daemon thread, so it can never keep the
interpreter alive.

Where ASE's convergence test holds, control goes back to the solver at that
point, so that it ends there with its own verdict: for a saddle search, the
order check by finite-difference force products, made and counted there.
``TrustNewton(verify=True)`` then checks for imaginary modes with
`curvopt.chem.vibrations` (rigid-body modes projected out, frozen atoms
respected).  The atoms are put back afterwards, with the calculator's results
for that point restored (no extra call).
"""

from __future__ import annotations

import math
import queue
import threading
import weakref

import numpy as np
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError
from ase.optimize.optimize import DEFAULT_MAX_STEPS, Optimizer

__all__ = ["TrustNewton", "TransitionState"]

# ---------------------------------------------------------------------------------------------
# The coordinates the solvers work in: the one place where the choice is made.  'cartesian': the
# free Cartesian coordinates, on trust-lbfgs; 'internal': redundant internal coordinates on the
# engine of `curvopt.chem.internal` (molecules, no constraints); 'auto': internal for molecules,
# Cartesian for clusters without covalent bonds, periodic solids and constrained systems.
# ---------------------------------------------------------------------------------------------
def _cartesian(atoms):
    return _CartesianCoordinates(atoms)


def _internal(atoms):
    if atoms.constraints:
        raise ValueError("coordinates='internal' does not take constraints (got "
                         f"{[type(c).__name__ for c in atoms.constraints]}); use coordinates='cartesian'")
    if np.any(atoms.pbc):
        raise ValueError("coordinates='internal' is for molecules, not periodic cells; use coordinates='cartesian'")
    if len(atoms) < 2:
        raise ValueError("coordinates='internal' needs at least two atoms")
    coords = _CartesianCoordinates(atoms)  # every atom free: the solver's x is all Cartesians
    coords.internal = True
    return coords


def _auto(atoms):
    from .internal import choose_coordinates

    if atoms.constraints or choose_coordinates(atoms) != "internal":
        return _cartesian(atoms)
    return _internal(atoms)


_ENGINES = {"cartesian": _cartesian, "internal": _internal, "auto": _auto}


def _resolve_coordinates(coordinates, atoms):
    """The coordinate system named by `coordinates`, built for `atoms`."""
    key = coordinates.lower() if isinstance(coordinates, str) else coordinates
    if key in _ENGINES:
        return _ENGINES[key](atoms)
    raise ValueError(f"`coordinates` must be one of {', '.join(map(repr, _ENGINES))}; got {coordinates!r}")


class _CartesianCoordinates:
    """The free Cartesian coordinates of `atoms` (those not fixed by `FixAtoms` or `FixCartesian`).

    ``get(atoms)`` gives them as a flat vector, ``set(atoms, x)`` puts them
    back, ``gradient(full)`` picks them out of a (3 N,) gradient, and
    ``fmax(g)`` is ASE's convergence measure (the largest per-atom force norm,
    fixed components counting as zero, as in ``atoms.get_forces()``).
    """

    internal = False  # the solver runs in internal coordinates (see `_internal`)

    def __init__(self, atoms):
        from ase.constraints import FixAtoms, FixCartesian

        mask = np.ones((len(atoms), 3), dtype=bool)
        for constraint in atoms.constraints:
            if isinstance(constraint, FixAtoms):
                mask[constraint.get_indices()] = False
            elif isinstance(constraint, FixCartesian):
                mask[constraint.index] &= ~np.asarray(constraint.mask, dtype=bool)
            else:
                raise ValueError(
                    f"constraint {type(constraint).__name__} is not supported; the curvopt optimizers take "
                    "FixAtoms and FixCartesian (they work in the free Cartesian coordinates)"
                )
        self.natoms = len(atoms)
        self.mask = mask.reshape(-1)
        self.free = np.flatnonzero(self.mask)
        if self.free.size == 0:
            raise ValueError("every atom is fixed by the constraints: there is nothing to optimize")
        self.free_atoms = np.flatnonzero(mask.any(axis=1))

    @property
    def n(self):
        return self.free.size

    def get(self, atoms):
        return atoms.get_positions().reshape(-1)[self.free].copy()

    def get_from(self, positions):
        return np.asarray(positions, dtype=float).reshape(-1)[self.free].copy()

    def positions(self, atoms, x):
        full = atoms.get_positions().reshape(-1)
        full[self.free] = x
        return full.reshape(-1, 3)

    def gradient(self, full_gradient):
        return np.asarray(full_gradient, dtype=float).reshape(-1)[self.free].copy()

    def embed(self, g):
        full = np.zeros(3 * self.natoms)
        full[self.free] = g
        return full

    def fmax(self, g):
        return float(np.max(np.linalg.norm(self.embed(g).reshape(-1, 3), axis=1)))


# ---------------------------------------------------------------------------------------------
# The worker thread
# ---------------------------------------------------------------------------------------------
class _Abort(BaseException):
    """Raised in the worker's oracle to unwind a solver that is being stopped.

    A BaseException, so that no solver mistakes it for a failed trial point
    (curvopt's oracles turn ``Exception`` into a rejected step).
    """


_CONTINUE = "continue"
_STOP = "stop"


class _SolverThread:
    """A curvopt solver in a daemon thread, driven from the main thread message by message.

    `solve(fun, callback)` runs the solver with the oracle ``fun(x) -> (f, g)``
    and the callback given, and returns its `OptimizeResult`.  The worker posts
    ``('evaluate', x)``, ``('iteration', x)``, ``('done', result)`` or
    ``('error', exception)``; the main thread answers an evaluation with
    ``(f, g)`` or an exception, and an iteration with `_CONTINUE` or `_STOP`.
    Nothing here refers to the optimizer, so the thread never keeps it alive.
    """

    def __init__(self, solve):
        self._requests = queue.Queue(maxsize=1)
        self._replies = queue.Queue(maxsize=1)
        self.waiting = None  # the kind of message the worker waits on an answer to
        self.finished = False
        self.result = None
        self._thread = threading.Thread(target=self._work, args=(solve,), name="curvopt-solver", daemon=True)
        self._thread.start()

    # -- in the worker
    def _ask(self, message):
        if self.finished or threading.current_thread() is not self._thread:
            # only the solver, while it runs, may ask: anything else would wait forever for an answer
            raise RuntimeError("the optimizer's solver has ended: its oracle cannot be called any more")
        self._requests.put(message)
        return self._replies.get()

    def _fun(self, x):
        reply = self._ask(("evaluate", np.array(x, dtype=float, copy=True)))
        if reply is _STOP:
            raise _Abort
        if isinstance(reply, BaseException):
            raise reply  # the calculator's error, at this point: the solver rejects the point
        return reply

    def _callback(self, intermediate_result):
        if self._ask(("iteration", np.array(intermediate_result.x, dtype=float, copy=True))) is _STOP:
            raise StopIteration

    def _work(self, solve):
        try:
            message = ("done", solve(self._fun, self._callback))
        except _Abort:
            message = ("done", None)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            message = ("error", exc)
        self._requests.put(message)

    # -- in the main thread
    def receive(self, reply=None):
        """Answer the pending message (if any) with `reply` and return the worker's next one."""
        if self.waiting is not None:
            self._replies.put(reply)
        kind, payload = self._requests.get()
        self.waiting = kind if kind in ("evaluate", "iteration") else None
        if kind == "done":
            self.finished = True
            self.result = payload
            self._thread.join()
        elif kind == "error":
            self.finished = True
            self._thread.join()
        return kind, payload

    def stop(self):
        """End the solver (its result, if it returned one, stays in `result`)."""
        while not self.finished:
            self.receive(_STOP)


def _stop_thread(holder):
    """Finalizer of an optimizer: stop its worker, if any (never raises)."""
    thread = holder.get("thread")
    if thread is not None:
        try:
            thread.stop()
        except BaseException:  # noqa: BLE001 - at garbage collection there is no one to tell
            pass


# ---------------------------------------------------------------------------------------------
# The shared optimizer
# ---------------------------------------------------------------------------------------------
def _check_atoms(atoms):
    if not isinstance(atoms, Atoms):
        raise TypeError(
            f"`atoms` must be an ase.Atoms; got {type(atoms).__name__} (cell filters are not supported yet)"
        )
    calc = atoms.calc
    if calc is None:
        raise ValueError("`atoms` has no calculator: attach one first, e.g. atoms.calc = EMT()")
    implemented = getattr(calc, "implemented_properties", None)
    if implemented is not None and "forces" not in implemented:
        raise ValueError(
            f"the calculator of `atoms` ({type(calc).__name__}) does not give forces "
            f"(its implemented_properties are {list(implemented)}); the optimizer needs forces"
        )


class _CurvoptOptimizer(Optimizer):
    """An ASE Optimizer whose steps are the accepted iterates of a curvopt solver in a worker thread."""

    def __init__(self, atoms, logfile, trajectory, append_trajectory, coordinates, **kwargs):
        _check_atoms(atoms)
        self.coordinates = coordinates
        self._coords = _resolve_coordinates(coordinates, atoms)
        self.coordinates_used = "internal" if self._coords.internal else "cartesian"
        self.n_force_calls = 0
        self.result = None
        self._holder = {"thread": None}  # the finalizer stops the thread in it, without referring to self
        self._iterate_x = None  # the solver's current point
        self._last_error = None  # the calculator's exception at the last point evaluated, if it failed
        self._pending = None  # an iterate the solver reached while ASE's convergence test was being answered
        self._verdict = None  # (positions, converged) of the last completed convergence check
        self._stuck = False
        self._cache = []  # (positions, calculator's atoms, results) of the last points evaluated
        self._anchor = None  # the same, at the solver's current iterate
        super().__init__(atoms, restart=None, logfile=logfile, trajectory=trajectory,
                         append_trajectory=append_trajectory, **kwargs)
        weakref.finalize(self, _stop_thread, self._holder)

    # -- what subclasses define
    def _solver(self, x0):
        """``solve(fun, callback) -> OptimizeResult``: the solver from `x0`, with everything it needs bound now
        (it runs in the worker thread and must not refer to the optimizer, or the optimizer would never be
        garbage-collected while it runs)."""
        raise NotImplementedError

    # -- ASE's interface
    def todict(self):
        description = super().todict()
        description["coordinates"] = self.coordinates
        return description

    def irun(self, fmax=0.05, steps=DEFAULT_MAX_STEPS):
        """Run the optimizer as a generator, yielding whether it has converged after each step.

        As ASE's ``Optimizer.irun``; the solver is stopped when the generator
        ends (converged, out of steps, or closed early).
        """
        if not (isinstance(fmax, (int, float, np.floating)) and math.isfinite(fmax) and fmax > 0):
            raise ValueError(f"`fmax` must be a finite number > 0 (eV/Å); got {fmax!r}")
        self._stop_solver()
        self.fmax = float(fmax)
        self._stuck = False
        try:
            yield from self._iterate(int(steps))
        finally:
            self._stop_solver()

    def run(self, fmax=0.05, steps=DEFAULT_MAX_STEPS):
        """Run until ASE's test (largest free-atom force < `fmax`) holds, or `steps` steps; True if converged."""
        converged = False
        for converged in self.irun(fmax=fmax, steps=steps):
            pass
        return converged

    def _iterate(self, steps):
        self.max_steps = self.nsteps + steps
        gradient = self._gradient_here()
        if self.nsteps == 0:
            self.log(gradient)
            if self.trajectory is None or self._traj_is_empty():
                self.call_observers()
        converged = self.gradient_converged(gradient)
        yield converged
        while not converged and not self._stuck and self.nsteps < self.max_steps:
            self.step()
            if self._stuck:
                break
            self.nsteps += 1
            gradient = self._gradient_here()
            self.log(gradient)
            self.call_observers()
            converged = self.gradient_converged(gradient)
            yield converged

    def _gradient_here(self):
        """The gradient at the current positions, counted; a missing property becomes a clear error."""
        self._count_if_needed("forces")
        try:
            return self.optimizable.get_gradient()
        except PropertyNotImplementedError as err:
            raise ValueError(
                f"the calculator of `atoms` ({type(self.atoms.calc).__name__}) does not give forces; "
                "the optimizer needs them"
            ) from err

    def gradient_converged(self, gradient):
        """ASE's test on the free atoms' forces; where it holds, the solver's own verdict there.

        The solver stops on the same measure (`TrustNewton`) or a stricter one
        (`TransitionState`) and then runs its curvature check, if any, at this
        point: converged means ASE's test holds and the solver ended here with
        success.
        """
        if not self.optimizable.converged(gradient, self.fmax):
            return False
        here = self.atoms.get_positions()
        if self._verdict is not None and self._verdict[0] == self.fmax and np.array_equal(self._verdict[1], here):
            return self._verdict[2]
        kind, payload = self._advance()
        if kind == "iteration":
            # the solver's test does not hold yet, or its check found the wrong curvature and it stepped
            # away: that iterate is the next step
            self._pending = payload
            self._restore(here)
            return False
        self._finish(kind, payload)
        self._restore(here)
        converged = bool(self.result is not None and self.result.success
                         and np.array_equal(self._coords.get(self.atoms), self.result.x))
        if not converged:
            self._stuck = True  # the solver has ended here without success: nothing left to do
        else:
            escape = self._after_success(here)
            if escape is not None:
                self._pending = escape
                return False
        self._verdict = (self.fmax, here, converged)
        return converged

    def _after_success(self, here):
        """A last check where the solver has ended with success: free coordinates to step to, or None."""
        return None

    def step(self):
        """One iteration: serve the solver's evaluations until it accepts a point; leave the atoms there."""
        if self._pending is not None:
            x, self._pending = self._pending, None
            self._restore(self._coords.positions(self.atoms, x))
            return
        for _ in range(2):  # a solver that ends without an accepted step is restarted once, from here
            kind, payload = self._advance()
            if kind == "iteration":
                self._restore(self._coords.positions(self.atoms, payload))
                return
            self._finish(kind, payload)
            if self._last_error is not None:
                # the solver gave up after the calculator failed at every point it tried: as with ASE's
                # optimizers, the calculator's error is the user's to see
                error, self._last_error = self._last_error, None
                self._restore(self._coords.positions(self.atoms, self._iterate_x))
                raise error
            if self.result is not None:
                self._restore(self._coords.positions(self.atoms, self.result.x))
        self._stuck = True

    def close(self):
        self._stop_solver()
        super().close()

    # -- the solver thread
    def _advance(self):
        """Let the solver go on (starting it from the current point if none runs), serving its evaluations,
        until it reports an iterate or ends; returns that message."""
        thread = self._holder["thread"]
        if thread is None:
            if self.fmax is None:
                raise RuntimeError("the solver needs the threshold: call run(fmax=...) or irun(fmax=...), "
                                   "or set opt.fmax before calling step() directly")
            self._gradient_here()
            self._remember(anchor=True)
            self._iterate_x = self._coords.get(self.atoms)
            thread = _SolverThread(self._solver(self._iterate_x.copy()))
            self._holder["thread"] = thread
            kind, payload = thread.receive()
        else:
            kind, payload = thread.receive(_CONTINUE)
        while True:
            if kind == "evaluate":
                try:
                    reply = self._evaluate(payload)
                    self._last_error = None
                except Exception as exc:  # the solver treats a failed point as a rejected step
                    reply = self._last_error = exc
                kind, payload = thread.receive(reply)
            elif kind == "iteration" and np.array_equal(payload, self._iterate_x):
                kind, payload = thread.receive(_CONTINUE)  # a rejected trial step: no move, no ASE step
            else:
                break
        if kind == "iteration":
            self._iterate_x = payload
            self._restore(self._coords.positions(self.atoms, payload))
            self._remember(anchor=True)
        return kind, payload

    def _finish(self, kind, payload):
        self._holder["thread"] = None
        if kind == "error":
            raise payload
        self.result = payload

    def _stop_solver(self):
        thread = self._holder["thread"]
        if thread is not None:
            here = self.atoms.get_positions()
            thread.stop()
            if thread.result is not None:
                self.result = thread.result
            self._holder["thread"] = None
            self._restore(here)
        self._pending = None

    # -- evaluations and the calculator's cache
    def _count_if_needed(self, prop="forces"):
        # a calculator that did not compute `prop` with the last call for these positions is called again
        if self.atoms.calc.calculation_required(self.atoms, [prop]):
            self.n_force_calls += 1

    def _evaluate(self, x):
        self._restore(self._coords.positions(self.atoms, x))
        self._count_if_needed("forces")
        gradient = self.optimizable.get_gradient()
        self._count_if_needed("energy")
        energy = float(self.optimizable.get_value())
        if not (math.isfinite(energy) and np.all(np.isfinite(gradient))):
            raise FloatingPointError("the calculator returned a non-finite energy or forces")
        self._remember()
        return energy, self._coords.gradient(gradient)

    def _remember(self, anchor=False):
        """Keep the calculator's results at the current point: among the last few evaluated, or, with
        `anchor`, as those of the solver's current iterate (kept until the next one, however many
        finite-difference products come in between)."""
        calc = self.atoms.calc
        results = getattr(calc, "results", None)
        if not (isinstance(results, dict) and getattr(calc, "atoms", None) is not None):
            return
        if calc.calculation_required(self.atoms, ["energy", "forces"]):
            return  # the calculator's results are not those of the current point
        entry = (calc.atoms.positions.copy(), calc.atoms.copy(), dict(results))
        if anchor:
            self._anchor = entry
        else:
            self._cache = [c for c in self._cache if not np.array_equal(c[0], entry[0])][-3:] + [entry]

    def _restore(self, positions):
        """Move the atoms to `positions`; if the calculator computed there recently, give it those results back
        (so that moving back to a point just evaluated costs no new call)."""
        self.atoms.set_positions(positions)
        calc = self.atoms.calc
        if not calc.calculation_required(self.atoms, ["energy", "forces"]):
            return
        entries = reversed(self._cache + ([self._anchor] if self._anchor is not None else []))
        for cached_positions, cached_atoms, results in entries:
            if np.array_equal(cached_positions, self.atoms.positions):
                calc.atoms = cached_atoms.copy()
                calc.results = dict(results)
                if calc.calculation_required(self.atoms, ["energy", "forces"]):
                    continue  # something else changed (cell, numbers): recompute
                return


# ---------------------------------------------------------------------------------------------
# Minima
# ---------------------------------------------------------------------------------------------
_MAX_ESCAPES = 5


class TrustNewton(_CurvoptOptimizer):
    """Geometry optimization with curvopt's trust-region quasi-Newton method, as an ASE optimizer.

    The steps are those of ``curvopt.minimize(method='trust-lbfgs')`` (a
    trust region on a compact limited-memory BFGS model, subproblems solved
    exactly), run on the free Cartesian coordinates with ASE's convergence
    measure (the largest per-atom force) as its stopping test, so that it
    stops exactly where ASE's test first holds.  Each step costs one force
    call; a rejected trial point costs one more.

    Parameters
    ----------
    atoms : ase.Atoms
        The structure, with a calculator that gives forces.  Atoms fixed by
        ``FixAtoms`` (and components fixed by ``FixCartesian``) do not move
        and their forces are left out; other constraints are refused.
    logfile : file, str, Path or None, default '-'
        Where ASE's log lines go ('-': standard output).
    trajectory : str, Path, Trajectory or None
        ASE trajectory written after every step.
    append_trajectory : bool
        Append to an existing trajectory file instead of overwriting it.
    maxstep : float, optional
        Cap on the Euclidean length of one step of all free coordinates
        together (Å); default: no cap beyond the solver's (1000).  The trust
        region, not a cap, keeps steps safe.
    initial_step : float, default 0.7
        Length of the first step (a steepest-descent step; Å), the initial
        trust radius.
    memory : int, default 100
        Step/force-change pairs the quasi-Newton model keeps.
    verify : bool, default False
        At convergence, check that the point is a minimum: the lowest
        vibrational mode by `curvopt.chem.vibrations` (Lanczos on central
        finite-difference force products of the mass-weighted Hessian,
        rigid-body modes projected out; the cost of ``vibrations(k=1)``:
        tens of force calls for small molecules, hundreds for LJ38 and LJ75).  At a saddle
        point (an imaginary mode) the run steps along that mode, downhill,
        by `escape_step` and goes on (at most 5 times).  ``result`` then has
        ``is_local_minimum`` (the check's verdict: no frequency below
        -1 cm^-1), ``lowest_frequency`` (cm^-1, imaginary as negative) and
        ``min_curvature`` (its eigenvalue of the mass-weighted Hessian,
        eV/(Å² amu)); ``opt.vibrations`` is the full `VibrationsResult`.
        Only ``FixAtoms`` constraints are allowed with it.
    escape_step : float, default 0.1
        Largest atomic displacement of a step off a saddle point (Å).
    coordinates : {'auto', 'internal', 'cartesian'}
        The coordinates the solver works in.  'internal': redundant internal
        coordinates (bonds, bends, torsions, fragment translations and
        rotations) with a Lindh model Hessian updated by BFGS and an exact
        trust-region step (`curvopt.chem.internal`), for molecules without
        constraints: about a tenth of the force calls of Cartesian methods
        (ethanol, benzene, trans-butane, ibuprofen with GFN2-xTB: 11, 11, 10,
        16 calls to fmax 1e-3).  'cartesian': the free Cartesian coordinates
        on ``minimize(method='trust-lbfgs')``, for clusters, solids and
        constrained systems.  'auto' (default): 'internal' for a molecule
        (`curvopt.chem.internal.choose_coordinates`) without constraints,
        else 'cartesian'.  ``opt.coordinates_used`` says which.
    options : dict, optional
        More options of ``minimize(method='trust-lbfgs')`` in Cartesian
        coordinates (e.g. ``model='sr1'``), or with internal coordinates of
        `curvopt.chem.internal.InternalCoordinateOptimizer` (e.g.
        ``trust_radius``, ``hessian``, ``update``).  `maxstep` and
        `initial_step` are Cartesian options: with internal coordinates
        `maxstep` caps the largest atomic displacement of a step (as in ASE)
        and `initial_step` is not used (the engine's ``trust_radius``).
    **kwargs
        Passed to ASE's ``Optimizer`` (``master``, ``comm``, ``loginterval``).

    Attributes
    ----------
    n_force_calls : int
        Calculator calls made by the optimizer (every call of a
        finite-difference product included; reading the forces again at
        points already computed is free and not counted).
    result : OptimizeResult or None
        The solver's result once it has ended (at convergence, or when a run
        ends): ``x`` (free coordinates), ``fun``, ``njev``, ``status``,
        ``message``, and with `verify` ``is_local_minimum``, ``lowest_frequency``
        and ``min_curvature``.
    nsteps : int
        Accepted steps, as in ASE.

    Notes
    -----
    ``run`` returns True only when ASE's test holds (and, with `verify`, the
    curvature check passed there).  When the solver ends without success
    (e.g. it cannot decrease the energy further within round-off) it is
    restarted once from the current point; if that fails too the run ends
    and returns False, with the reason in ``result.message``.

    References
    ----------
    R. H. Byrd, J. Nocedal and R. B. Schnabel, "Representations of
    quasi-Newton matrices and their use in limited memory methods",
    Math. Program. 63, 129-156 (1994).
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer,
    2006, Chapters 4 and 7.

    Examples
    --------
    >>> from ase.cluster import Icosahedron
    >>> from ase.calculators.lj import LennardJones
    >>> from curvopt.chem import TrustNewton
    >>> atoms = Icosahedron('Ar', noshells=2, latticeconstant=1.6)
    >>> atoms.calc = LennardJones(epsilon=1.0, sigma=1.0, rc=10.0)
    >>> opt = TrustNewton(atoms, logfile=None)
    >>> opt.run(fmax=1e-3)
    True
    >>> print(f"{atoms.get_potential_energy():.4f}")  # the icosahedron (with the cut-off's shift)
    -44.3265
    """

    def __init__(self, atoms, logfile="-", trajectory=None, append_trajectory=False, *, maxstep=None,
                 initial_step=0.7, memory=100, verify=False, escape_step=0.1, coordinates="auto", options=None,
                 **kwargs):
        if maxstep is not None and not (isinstance(maxstep, (int, float)) and 0 < maxstep < math.inf):
            raise ValueError(f"`maxstep` must be a finite number > 0 (Å) or None; got {maxstep!r}")
        if not (isinstance(initial_step, (int, float)) and 0 < initial_step < math.inf):
            raise ValueError(f"`initial_step` must be a finite number > 0 (Å); got {initial_step!r}")
        if verify not in (True, False):
            raise ValueError(f"`verify` must be True or False; got {verify!r}")
        if not (isinstance(escape_step, (int, float)) and 0 < escape_step < math.inf):
            raise ValueError(f"`escape_step` must be a finite number > 0 (Å); got {escape_step!r}")
        if options is not None and not isinstance(options, dict):
            raise TypeError(f"`options` must be a dict of trust-lbfgs options or None; got {type(options).__name__}")
        reserved = {"gtol", "measure", "verify", "callback"} & set(options or {})  # set here, from fmax
        if reserved:
            raise ValueError(f"options {sorted(reserved)} are set by TrustNewton itself (fmax, verify)")
        self.maxstep = maxstep
        self.initial_step = float(initial_step)
        self.memory = memory
        self.verify = verify
        self.escape_step = float(escape_step)
        self.options = dict(options or {})
        self.vibrations = None
        self._escapes = 0
        super().__init__(atoms, logfile, trajectory, append_trajectory, coordinates, **kwargs)
        self._check_options()
        if verify:
            from ase.constraints import FixAtoms

            others = [type(c).__name__ for c in atoms.constraints if not isinstance(c, FixAtoms)]
            if others:
                raise ValueError(f"verify=True takes FixAtoms constraints only (as vibrations); got {others}")

    def _check_options(self):
        """`options` checked against the engine `coordinates` chose, here rather than in the solver's thread."""
        import inspect

        if self._coords.internal:
            from .internal import InternalCoordinateOptimizer

            valid = set(inspect.signature(InternalCoordinateOptimizer).parameters) - {"atoms", "numbers", "fmax"}
            valid |= {"maxiter"}
            engine = "the internal-coordinate engine (curvopt.chem.internal.InternalCoordinateOptimizer)"
        else:
            from .._registry import METHODS

            valid = set(METHODS["trust-lbfgs"].options) - {"gtol", "measure", "verify"}
            engine = "minimize(method='trust-lbfgs')"
        unknown = sorted(set(self.options) - valid)
        if unknown:
            raise ValueError(f"options {unknown} are not options of {engine}, which coordinates="
                             f"{self.coordinates!r} chose for these atoms; valid: {sorted(valid)}")

    def _after_success(self, here):
        if not self.verify:
            return None
        from .vibrations import vibrations

        # vibrations' own defaults (central differences, Lanczos to 1e-6): a looser tolerance stops
        # after a few products, too early to rule out a soft imaginary mode
        vib = vibrations(self.atoms, k=1, which="lowest")
        self.n_force_calls += vib.n_force_calls
        self._restore(here)
        self.vibrations = vib
        self.result.update(is_local_minimum=vib.is_minimum, lowest_frequency=float(vib.frequencies[0]),
                           min_curvature=float(vib.eigenvalues[0]))
        if vib.is_minimum is not False or self._escapes >= _MAX_ESCAPES:
            return None
        self._escapes += 1
        mode = vib.modes[0] / np.max(np.linalg.norm(vib.modes[0], axis=1))
        if np.vdot(mode, self.atoms.get_forces()) < 0:  # downhill to first order, where the forces are not 0
            mode = -mode
        return self._coords.get_from(here + self.escape_step * mode)

    def _solver(self, x0):
        if self._coords.internal:
            return _internal_solver(x0, self.atoms.get_atomic_numbers(), self.fmax, self.maxstep, self.options)
        from .._minimize import minimize

        initial = self.initial_step if self.maxstep is None else min(self.initial_step, self.maxstep)
        options = dict(gtol=np.nextafter(self.fmax, 0.0),  # ASE's test is strict: fmax < threshold
                       measure=self._coords.fmax, verify=False, memory=self.memory,
                       initial_trust_radius=initial, maxiter=10**9)
        if self.maxstep is not None:
            options["max_trust_radius"] = float(self.maxstep)
        options.update(self.options)
        def solve(fun, callback):
            res = minimize(fun, x0, jac=True, method="trust-lbfgs", callback=callback, options=options)
            # its products would call `fun`, the worker thread's oracle, which ends with the thread
            res.pop("hess_inv", None)
            return res

        return solve


# consecutive calculator failures at trial points before the internal-coordinate solver gives up
# (trust-lbfgs's default `max_failures`)
_MAX_FAILED_POINTS = 10


def _internal_solver(x0, numbers, fmax, maxstep, options, engine_class=None):
    """``solve(fun, callback)`` running `curvopt.chem.internal`'s engine from `x0` (all Cartesians).

    The engine is reverse-communication (one call of ``engine.step`` per force
    evaluation, the next point to evaluate back); here it becomes a pull-based
    solver like `minimize`: every evaluation goes through `fun`, and every
    point the engine accepts is reported to `callback` (an ASE step).
    `engine_class` is `InternalCoordinateOptimizer` (default) or
    `InternalSaddleOptimizer` (whose finite-difference displacements are
    evaluations that are never accepted points).
    """
    from scipy.optimize import OptimizeResult

    from .internal import InternalCoordinateOptimizer

    if engine_class is None:
        engine_class = InternalCoordinateOptimizer
    engine_options = dict(options)
    if maxstep is not None:
        engine_options["maxstep"] = float(maxstep)
    max_evaluations = int(engine_options.pop("maxiter", 10**6))

    def solve(fun, callback):
        # the engine's test is ASE's strict ``fmax_now < fmax``, on every atom (no constraints here)
        engine = engine_class(numbers=numbers, fmax=float(fmax), **engine_options)
        x, nit, calls, failures = np.array(x0, dtype=float), 0, 0, 0
        status, message = 1, "the evaluation budget (option maxiter) was used up"
        while calls < max_evaluations:
            try:
                energy, gradient = fun(x)
            except Exception:
                # a failed trial point is a rejected step, as in trust-lbfgs; at the start, or failing
                # again and again, the calculator's error is the user's to see
                calls += 1
                failures += 1
                rejectable = hasattr(engine, "failed") and getattr(engine, "coords", None) is not None
                if not rejectable or failures > _MAX_FAILED_POINTS:  # the saddle engine cannot reject
                    raise
                x = np.asarray(engine.failed(), dtype=float).reshape(-1)
                continue
            failures = 0
            calls += 1
            proposal = engine.step(x.reshape(-1, 3), energy, -gradient.reshape(-1, 3))
            if calls > 1 and np.array_equal(engine.positions.reshape(-1), x):  # accepted: an ASE step
                nit += 1
                try:
                    callback(OptimizeResult(x=x.copy(), fun=energy, jac=gradient, nit=nit, njev=calls))
                except StopIteration:
                    status, message = 99, "stopped by the callback"
                    break
            if engine.converged:
                status, message = 0, "ASE's test holds: the largest force is below fmax"
                break
            if getattr(engine, "stalled", False):
                status, message = 10, (f"ASE's test holds, but the Hessian model has {engine.order_found} negative "
                                       f"eigenvalue(s), not {engine.order}, after {engine.n_kicks} step(s) off "
                                       "the point: a stationary point of the wrong order")
                break
            x = np.asarray(proposal, dtype=float).reshape(-1)
        best = engine.positions.reshape(-1).copy()
        extras = engine.summary() if hasattr(engine, "summary") else {}
        return OptimizeResult(x=best, fun=engine.energy, jac=-engine.forces.reshape(-1), nit=nit, nfev=calls,
                              njev=calls, status=status, success=status == 0, message=message,
                              n_rejected=getattr(engine, "n_rejected", 0), n_rebuilds=engine.n_rebuilds, **extras)

    return solve


# ---------------------------------------------------------------------------------------------
# Saddle points
# ---------------------------------------------------------------------------------------------
def _is_integer(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class TransitionState(_CurvoptOptimizer):
    """Transition states (saddle points of a given order), in internal or Cartesian coordinates, as an ASE optimizer.

    Minimum-mode following: partitioned rational-function steps in the
    eigenbasis of a quasi-Newton model of the Hessian (TS-BFGS updates), whose
    lowest modes come from a model-preconditioned Davidson eigensolver on
    finite-difference force products (one force call each) -- Sella's scheme,
    run by `curvopt.find_saddle` on Cartesians or by
    `curvopt.chem.internal.InternalSaddleOptimizer` in redundant internal
    coordinates (molecules, see `coordinates`).  The run converges when ASE's
    test holds (largest free-atom force below ``fmax``) *and* the solver's
    own test holds there with the Hessian's `order` lowest eigenvalues
    negative (Cartesian: by its final check; internal: by its model, shaped by
    the products and steps).

    Parameters
    ----------
    atoms : ase.Atoms
        The structure near the saddle point, with a calculator that gives
        forces.  ``FixAtoms``/``FixCartesian`` are honoured (free Cartesian
        coordinates only).
    order : int, default 1
        Number of negative Hessian eigenvalues wanted (1: a transition state).
    logfile, trajectory, append_trajectory :
        As for ASE's optimizers (`logfile` default '-').
    maxstep : float, default 0.2
        Largest displacement of one atom in a step (Å): the cap on the trust
        radius, measured per atom as Sella does.
    initial_step : float, default 0.1
        Initial trust radius (Å, per atom; Sella's ``delta0``).
    deflate : 'auto', None, or anything `find_saddle` takes
        Directions kept out of the search.  'auto': the rigid translations and
        rotations for a molecule or cluster (no fixed atoms, no periodicity),
        the three translations for a periodic system without fixed atoms,
        nothing when atoms are fixed.
    coordinates : {'auto', 'internal', 'cartesian'}
        The coordinates the search works in.  'internal': redundant internal
        coordinates (`curvopt.chem.internal.InternalSaddleOptimizer`: a Lindh
        model Hessian in delocalized internals, Davidson lowest modes from
        finite-difference force products preconditioned by it, P-RFO steps),
        for molecules without constraints, `order` >= 1: fewer force calls
        than Cartesians on floppy molecules (methyl rotation of ethanol with
        GFN2-xTB: 12 against 80).  'cartesian': `curvopt.find_saddle` on the
        free Cartesian coordinates, for clusters, surfaces and constrained
        systems.  'auto' (default): 'internal' for a molecule
        (`curvopt.chem.internal.choose_coordinates`) without constraints,
        else 'cartesian'.  ``opt.coordinates_used`` says which.
    options : dict, optional
        More options of `curvopt.find_saddle` (e.g. ``final_check``, ``eig_tol``),
        or with internal coordinates of `InternalSaddleOptimizer` (e.g.
        ``trust_radius``, ``hvp_step``, ``final_check``).  `maxstep` caps the
        largest atomic displacement of a step in both; `initial_step` and
        `deflate` are Cartesian options (internal coordinates have no
        rigid-body motions to deflate; the initial trust radius is the
        engine's ``trust_radius``, in delocalized internals).
    **kwargs
        Passed to ASE's ``Optimizer``.

    Attributes
    ----------
    n_force_calls, nsteps :
        As for `TrustNewton`.
    result : OptimizeResult or None
        `find_saddle`'s result: ``order_found``, ``eigenvalues`` (the lowest
        ``order + 1`` of the Hessian of the free coordinates, eV/Å²),
        ``eigenvectors``, ``success``, ``message``.  With internal
        coordinates the same keys from the engine's model: ``eigenvalues``
        in delocalized internals (eV/Å² and eV/rad² mixed),
        ``eigenvectors`` the modes as unit Cartesian displacements
        ``(3 N, order + 1)``, and ``n_products``, ``n_eigensolves``.

    Notes
    -----
    `find_saddle` is given ASE's own test as its stationarity ``measure``
    (the largest free-atom force norm, after deflation), so both stop at the
    same point.

    References
    ----------
    E. D. Hermes, K. Sargsyan, H. N. Najm and J. Zádor, "Sella, an
    open-source automation-friendly molecular saddle point optimizer",
    J. Chem. Theory Comput. 18, 6974 (2022).
    A. Banerjee, N. Adams, J. Simons and R. Shepard, "Search for stationary
    points on surfaces", J. Phys. Chem. 89, 52 (1985).
    J. M. Anglada and J. M. Bofill, J. Comput. Chem. 19, 349-362 (1998).
    """

    def __init__(self, atoms, order=1, logfile="-", trajectory=None, append_trajectory=False, *, maxstep=0.2,
                 initial_step=0.1, deflate="auto", coordinates="auto", options=None, **kwargs):
        if not (isinstance(maxstep, (int, float)) and 0 < maxstep < math.inf):
            raise ValueError(f"`maxstep` must be a finite number > 0 (Å); got {maxstep!r}")
        if not (isinstance(initial_step, (int, float)) and 0 < initial_step < math.inf):
            raise ValueError(f"`initial_step` must be a finite number > 0 (Å); got {initial_step!r}")
        if options is not None and not isinstance(options, dict):
            raise TypeError(f"`options` must be a dict of find_saddle options or None; got {type(options).__name__}")
        reserved = {"gtol", "measure", "callback"} & set(options or {})
        if reserved:
            raise ValueError(f"options {sorted(reserved)} are set by TransitionState itself (from fmax)")
        self.order = order
        self.maxstep = float(maxstep)
        self.initial_step = float(initial_step)
        self.options = dict(options or {})
        if isinstance(coordinates, str) and coordinates.lower() == "auto" and _is_integer(order) and order < 1:
            coordinates = "cartesian"  # order 0 (a minimum) only find_saddle does; TrustNewton is the better tool
        super().__init__(atoms, logfile, trajectory, append_trajectory, coordinates, **kwargs)
        if self._coords.internal:
            import inspect

            from .internal import InternalSaddleOptimizer

            self.deflate = None
            valid = set(inspect.signature(InternalSaddleOptimizer).parameters) - {"atoms", "numbers", "order", "fmax"}
            unknown = sorted(set(self.options) - valid)
            if unknown:
                raise ValueError(f"unknown option(s) {unknown} for TransitionState in internal coordinates; "
                                 f"valid: {sorted(valid)}")
            # bad `order` and options are reported here, not from inside the first step
            InternalSaddleOptimizer(numbers=atoms.get_atomic_numbers(), order=order,
                                    **self._internal_options())
            return
        self.deflate = self._default_deflation() if isinstance(deflate, str) and deflate == "auto" else deflate
        from ..saddle._find import _check_order, _Deflation

        # bad `order` or `deflate` are reported here, not from inside the first step
        directions = _Deflation(self.deflate, self._coords.n).at(self._coords.get(atoms))
        _check_order(order, self._coords.n, self._coords.n - (0 if directions is None else directions.shape[1]))

    def _default_deflation(self):
        coords = self._coords
        if coords.n < 3 * coords.natoms:
            return None  # fixed atoms pin the frame
        if self.atoms.pbc.any():
            translations = np.zeros((coords.n, 3))
            for axis in range(3):
                translations[axis::3, axis] = 1.0
            return translations
        return "rigid-body"

    def _internal_options(self):
        options = dict(self.options)
        options.setdefault("maxstep", self.maxstep)
        return options

    def _solver(self, x0):
        if self._coords.internal:
            from .internal import InternalSaddleOptimizer

            options = dict(self._internal_options(), order=self.order)
            maxstep = options.pop("maxstep")
            return _internal_solver(x0, self.atoms.get_atomic_numbers(), self.fmax, maxstep, options,
                                    engine_class=InternalSaddleOptimizer)
        from ..saddle import find_saddle

        options = dict(gtol=np.nextafter(self.fmax, 0.0), measure=self._coords.fmax,  # ASE's own test
                       deflate=self.deflate, trust_norm="atoms",
                       initial_trust_radius=min(self.initial_step, self.maxstep), max_trust_radius=self.maxstep,
                       maxiter=10**9)
        options.update(self.options)
        order = self.order
        return lambda fun, callback: find_saddle(fun, x0, jac=True, order=order,
                                                 options=dict(options, callback=callback))
