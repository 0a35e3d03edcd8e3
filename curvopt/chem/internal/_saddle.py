"""Saddle points of a molecule (transition states) in redundant internal coordinates.

Minimum-mode following as Sella does it (Hermes et al. [1]_), in the
delocalized internals ``U`` of the redundant primitive set (Baker, Kessi &
Delley [2]_) that `InternalCoordinateOptimizer` minimizes in:

* the Hessian model lives on the primitives and starts from Lindh's model
  Hessian [3]_, positive definite: it knows which motions are stiff (bonds)
  and which soft before any force call, so the eigensolver that finds the
  reaction mode is well preconditioned from the start;
* the lowest mode(s) come from Davidson's method (`curvopt.saddle._davidson`)
  on finite-difference products ``H v ~ (g_q(q + h v) - g_q(q)) / h`` of the
  internal gradient, one force call each, preconditioned by the model; every
  product is a curvature pair and is folded into the model by the TS-BFGS
  multi-secant update of Anglada & Bofill [4]_ (symmetric, may stay
  indefinite), as is the pair of every step;
* each step is a partitioned rational-function (P-RFO) step [5]_ in the
  eigenbasis of the model in delocalized internals: uphill along the `order`
  lowest modes, downhill along the rest, restricted to a trust radius (the
  2-norm of the step in delocalized internals, Å and rad mixed) and to
  `maxstep` per atom once carried back to Cartesians;
* the eigensolver runs again only when the model has lost the negative
  curvature it needs, or its lowest mode has turned away from the one last
  measured (Sella: a fresh eigensolve costs several force calls, and the
  secant updates keep the model right near the measured mode);
* the trust radius follows Sella's rules on ``rho`` = actual / predicted
  energy change; every step is taken (a saddle search has no merit function
  to reject a step by).

The engine is reverse-communication, like `InternalCoordinateOptimizer`:
``new_positions = engine.step(positions, energy, forces)``, one call per
force evaluation, whether the point asked for is a step or a
finite-difference displacement.  Internally the algorithm is written as one
generator that yields the positions it wants evaluated.

References
----------
.. [1] E. D. Hermes, K. Sargsyan, H. N. Najm and J. Zádor, "Sella, an
   open-source automation-friendly molecular saddle point optimizer",
   J. Chem. Theory Comput. 18, 6974 (2022).
.. [2] J. Baker, A. Kessi and B. Delley, "The generation and use of
   delocalized internal coordinates in geometry optimization",
   J. Chem. Phys. 105, 192 (1996).
.. [3] R. Lindh, A. Bernhardsson, G. Karlström and P.-Å. Malmqvist, "On the
   use of a Hessian model function in molecular geometry optimizations",
   Chem. Phys. Lett. 241, 423 (1995).
.. [4] J. M. Anglada and J. M. Bofill, "How good is a Broyden-Fletcher-
   Goldfarb-Shanno-like update Hessian formula to locate transition
   structures?", J. Comput. Chem. 19, 349 (1998).
.. [5] A. Banerjee, N. Adams, J. Simons and R. Shepard, "Search for
   stationary points on surfaces", J. Phys. Chem. 89, 52 (1985).
.. [6] J. Olsen, P. Jørgensen and J. Simons, "Passing the one-billion limit
   in full configuration-interaction (FCI) calculations", Chem. Phys. Lett.
   169, 463 (1990) (the preconditioned Davidson correction).
"""

from __future__ import annotations

import numbers as _numbers

import numpy as np

from ..._rigid import rigid_body_basis
from ...saddle._davidson import davidson
from ...saddle._model import UPDATES, HessianModel
from ...saddle._step import prfo_step
from ._coordinates import InternalCoordinates
from ._engine import _too_close, checked_evaluation
from ._model_hessian import MODELS, model_hessian

__all__ = ["InternalSaddleOptimizer"]

# Sella's trust-radius rules for saddle searches (Hermes et al. 2022: rho_dec, rho_inc,
# sigma_dec, sigma_inc): shrink to 0.65 |s| when rho is outside [1/5, 5], grow to 1.15 |s|
# when rho is within 3.5 % of 1 (the same constants as `curvopt.find_saddle`)
_RHO_DEC, _RHO_INC, _SIGMA_DEC, _SIGMA_INC = 5.0, 1.035, 0.65, 1.15
_FINAL_CHECKS = ("model", "davidson")
# Davidson's residual test is relative to |theta|, floored at this fraction of the largest Ritz value:
# in internals a torsion's curvature is 1e-3 of a stretch's, and the force noise of an SCF code
# over the finite-difference displacement puts a floor under the residuals that a test relative to
# a torsion's |theta| alone never passes (ethanol with GFN2-xTB: 42 products where 4 do)
_EIG_FLOOR = 1e-2


class _NeedProduct(Exception):
    """Raised inside the eigensolver's product callback when a product has not been evaluated yet."""

    def __init__(self, vector):
        super().__init__()
        self.vector = vector


def _positive(name, value):
    if not (isinstance(value, _numbers.Real) and not isinstance(value, bool) and np.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be a positive number; got {value!r}")
    return float(value)


class InternalSaddleOptimizer:
    """Reverse-communication search for a saddle point of given order of a molecule, in redundant internals.

    Feed it one evaluation at a time; it returns the next positions to
    evaluate (a step, or a finite-difference displacement for a curvature
    product).  It never calls a calculator itself::

        engine = InternalSaddleOptimizer(atoms, order=1, fmax=1e-3)
        positions = atoms.positions
        while not engine.converged:
            atoms.positions = positions
            positions = engine.step(atoms.positions, atoms.get_potential_energy(), atoms.get_forces())

    Parameters
    ----------
    atoms : ase.Atoms, optional
        Gives `numbers` (the first `step` call brings the positions).
        Either `atoms` or `numbers`.
    numbers : array_like of int, optional
        Atomic numbers.
    order : int, default 1
        Number of negative Hessian eigenvalues wanted (1: a transition
        state).  At least 1: a minimum (order 0) is
        `InternalCoordinateOptimizer`'s job.
    fmax : float, optional
        Convergence on ASE's criterion: the largest per-atom force norm
        (eV/Å) at an iterate below `fmax`, *and* the model (or the final
        check, see `final_check`) with exactly `order` negative eigenvalues
        there.  None: never converged by the engine.
    trust_radius : float, default 0.2
        Initial trust radius: the 2-norm of a step in delocalized internals
        (Å and rad); twice Sella's ``delta0`` (fewer calls on the benchmark
        molecules, whose stiff directions the model Hessian knows).
    max_trust_radius, min_trust_radius : float
        Bounds of the trust radius (default 0.5 and 1e-4).
    maxstep : float, default 0.2
        Largest displacement of one atom in a step (Å); the step is scaled
        down to respect it (the cap of `TransitionState`).
    hessian : {'lindh', 'simple', 'unit'} or ndarray
        Starting model on the primitives (see ``_model_hessian``) or an
        explicit Cartesian Hessian (eV/Å^2, shape ``(3N, 3N)``) carried over
        to the internals; the first eigensolve then starts from its modes.
    update : {'ts-bfgs', 'psb', 'bofill'}
        Update of the model with each curvature pair (see
        `curvopt.saddle._model`); all three may keep negative curvature.
    eig_tol : float, default 0.1
        Davidson's test ``||H v - theta v|| <= eig_tol |theta|`` (Sella's
        ``gamma``): loose, as a mode needs only to point the right way.
    hvp_step : float, default 5e-3
        Length of the finite-difference displacement of a product in
        delocalized internals (Å, rad): the forward-difference error
        ``O(h)`` against the force noise of an SCF code, ``noise / h``
        (1e-3 cost ethanol's methyl rotation 21 calls and H2CO -> HCOH 30
        with GFN2-xTB, against 13 and 13 at 5e-3 and at 1e-2).
    diag_interval : int, default 3
        Steps after an eigensolve before the model's own spectrum (lost
        negative curvature) may trigger the next (Sella's
        ``nsteps_per_diag``).  A turned mode triggers one at any step.
    rotation_tol : float, default 0.5
        The lowest mode "has turned" when the overlap (smallest singular
        value of ``X_old' X_new``, ``X`` the `order` lowest modes in the
        primitives, normalized) between the model's modes and the last
        measured ones falls below this.
    final_check : {'model', 'davidson'}
        Where ASE's force test holds: 'model' counts the negative
        eigenvalues of the model (no extra force call; the products and
        secant pairs have shaped it near the mode; Sella's test);
        'davidson' first converges the `order` lowest modes by products again
        unless none has been taken since the last eigensolve.
    zero_tol : float, default 1e-4
        An eigenvalue counts as negative below ``-zero_tol`` times the
        largest absolute eigenvalue of the model (no rigid-body zero modes live in
        the delocalized internals, and a torsion's curvature can be 1e-3 of a
        stretch's: the tolerance guards against round-off only).
    max_kicks : int, default 3
        At a stationary point of the wrong order, steps of one trust radius
        along the offending mode before giving up (`stalled` set).

    Attributes
    ----------
    converged : bool
    stalled : bool
        Out of kicks at a stationary point of the wrong order.
    n_force_calls : int
        Evaluations handed to `step`.
    n_steps, n_products, n_eigensolves, n_rebuilds : int
        Steps taken, finite-difference products, eigensolves, rebuilds of
        the coordinate set.
    order_found : int or None
        Negative eigenvalues of the model at the current point.
    eigenvalues : ndarray
        The ``order + 1`` lowest eigenvalues of the model in delocalized
        internals at the current point (eV/Å^2 and eV/rad^2 mixed).
    energy : float
        Energy at the current iterate (eV).
    positions, forces : ndarray, shape (n, 3)
        Its positions (Å) and forces (eV/Å).
    fmax_history, energy_history : list
        One entry per evaluation (products included).
    trust_radius : float
    """

    def __init__(self, atoms=None, *, numbers=None, order=1, fmax=None, trust_radius=0.2, max_trust_radius=0.5,
                 min_trust_radius=1e-4, maxstep=0.2, hessian="lindh", update="ts-bfgs", eig_tol=0.1,
                 hvp_step=5e-3, diag_interval=3, rotation_tol=0.5, final_check="model", zero_tol=1e-4,
                 max_kicks=3):
        if atoms is not None:
            numbers = atoms.get_atomic_numbers()
            if np.any(atoms.pbc):
                raise ValueError("`atoms` is periodic: internal coordinates are for molecules; "
                                 "search periodic systems in Cartesian coordinates")
        if numbers is None:
            raise ValueError("give `atoms` (an ase.Atoms) or `numbers` (atomic numbers)")
        self.numbers = np.asarray(numbers, dtype=int).ravel()
        n_atoms = self.numbers.size
        if n_atoms < 2:
            raise ValueError(f"a saddle search in internal coordinates needs at least 2 atoms; got {n_atoms}")
        if isinstance(order, (bool, np.bool_)) or not isinstance(order, _numbers.Integral):
            raise ValueError(f"`order` must be an integer >= 1; got {order!r}")
        if order < 1:
            raise ValueError(f"`order` must be >= 1 (the number of negative Hessian eigenvalues; a minimum, "
                             f"order 0, is InternalCoordinateOptimizer's job); got {order}")
        max_order = 3 * n_atoms - 6 if n_atoms > 2 else 1
        if order > max_order:
            raise ValueError(f"`order` must be at most {max_order} (the internal degrees of freedom of "
                             f"{n_atoms} atoms); got {order}")
        self.order = int(order)
        if fmax is not None:
            fmax = _positive("fmax", fmax)
        self.fmax = fmax
        self.trust_radius = _positive("trust_radius", trust_radius)
        self.max_trust_radius = _positive("max_trust_radius", max_trust_radius)
        self.min_trust_radius = _positive("min_trust_radius", min_trust_radius)
        self.trust_radius = min(self.trust_radius, self.max_trust_radius)
        self.maxstep = _positive("maxstep", maxstep)
        self.eig_tol = _positive("eig_tol", eig_tol)
        self.hvp_step = _positive("hvp_step", hvp_step)
        self.zero_tol = _positive("zero_tol", zero_tol)
        if not (isinstance(rotation_tol, _numbers.Real) and 0 <= rotation_tol <= 1):
            raise ValueError(f"`rotation_tol` must be a number in [0, 1]; got {rotation_tol!r}")
        self.rotation_tol = float(rotation_tol)
        for name, val in (("diag_interval", diag_interval), ("max_kicks", max_kicks)):
            if isinstance(val, bool) or not isinstance(val, _numbers.Integral) or val < 0:
                raise ValueError(f"`{name}` must be a non-negative integer; got {val!r}")
        self.diag_interval = int(diag_interval)
        self.max_kicks = int(max_kicks)
        if isinstance(hessian, str):
            if hessian not in MODELS:
                raise ValueError(f"`hessian` must be one of {MODELS} or a (3N, 3N) array; got {hessian!r}")
        else:
            hessian = np.asarray(hessian, dtype=float)
            if hessian.shape != (3 * n_atoms, 3 * n_atoms):
                raise ValueError(f"`hessian` array must have shape ({3 * n_atoms}, {3 * n_atoms}); "
                                 f"got {hessian.shape}")
            if not np.all(np.isfinite(hessian)):
                raise ValueError("`hessian` array must be finite")
        self.hessian_model = hessian
        if update not in UPDATES:
            raise ValueError(f"`update` must be one of {UPDATES}; got {update!r}")
        self.update = update
        if final_check not in _FINAL_CHECKS:
            raise ValueError(f"`final_check` must be one of {_FINAL_CHECKS}; got {final_check!r}")
        self.final_check = final_check

        self.coords = None
        self.model = None
        self.converged = False
        self.stalled = False
        self.n_force_calls = 0
        self.n_steps = 0
        self.n_products = 0
        self.n_eigensolves = 0
        self.n_rebuilds = 0
        self.n_kicks = 0
        self.order_found = None
        self.eigenvalues = np.zeros(0)
        self.energy = None
        self.positions = None
        self.forces = None
        self.fmax_history = []
        self.energy_history = []
        self._run = None
        self._since_diag = None
        self._measured = None  # the modes of the last eigensolve, in the primitives

    # ------------------------------------------------------------------ public
    def step(self, positions, energy, forces):
        """Take one evaluation (Å, eV, eV/Å) of the point last returned (or the start); return the next point."""
        x, energy, f, fmax_now = checked_evaluation(self.numbers.size, positions, energy, forces)
        self.n_force_calls += 1
        self.fmax_history.append(fmax_now)
        self.energy_history.append(energy)
        if self.converged or self.stalled:
            return self.positions.copy()
        if self._run is None:
            self._run = self._search(x, energy, f)
            request = next(self._run)
        else:
            request = self._run.send((x, energy, f))
        return np.array(request, dtype=float)

    def summary(self):
        """The search's outcome for a result object: the model's spectrum and the work done."""
        if self.coords is None:
            return {}
        return dict(order_found=self.order_found, eigenvalues=self.eigenvalues.copy(),
                    eigenvectors=self.cartesian_modes(), eigen_source="model", n_products=self.n_products,
                    n_eigensolves=self.n_eigensolves, n_steps=self.n_steps, trust_radius=self.trust_radius)

    def cartesian_modes(self):
        """The ``order + 1`` lowest modes of the model at the current point as Cartesian displacements.

        Each column (shape ``(3 N,)``) is ``B^+ U v`` for a model eigenvector
        ``v`` in delocalized internals, scaled to unit length: the direction in
        which the atoms move along that mode (for an IRC start, say).
        """
        if self.coords is None:
            raise RuntimeError("no evaluation yet: call step() first")
        lam, V = self._model_eig()
        k = min(self.order + 1, V.shape[1])
        X = np.linalg.pinv(self._B, rcond=1e-8) @ (self._U @ V[:, :k])
        return X / np.linalg.norm(X, axis=0)

    # ------------------------------------------------------------------ the search
    def _search(self, x, energy, f):
        """The whole search as a generator: ``x, energy, f = yield positions_to_evaluate``."""
        self._start(x, energy, f)
        need_diag = True
        while True:
            if need_diag:
                yield from self._eigensolve()
                need_diag = False
            lam, V = self._model_eig()
            found = self._count_negative(lam)
            self.order_found = found
            self.eigenvalues = lam[: self.order + 1].copy()
            fmax_now = float(np.sqrt((self.forces**2).sum(axis=1)).max())
            kick = False
            if self.fmax is not None and fmax_now < self.fmax:
                if found == self.order and (self.final_check == "model" or self._since_diag == 0):
                    self.converged = True
                    while True:
                        yield self.positions.copy()
                if self._since_diag:
                    need_diag = True  # judge the order on measured curvature, not on a stale model
                    continue
                if self.n_kicks >= self.max_kicks:
                    self.stalled = True
                    while True:
                        yield self.positions.copy()
                self.n_kicks += 1
                kick = True
            gu = self._U.T @ self._g
            if kick:
                # a stationary point of the wrong order: one trust radius along the offending mode, uphill
                # along a mode that should be negative and is not, downhill along an extra negative one
                v = V[:, min(found, self.order)]
                climb = found < self.order
                p = (1.0 if climb == (gu @ v >= 0) else -1.0) * self.trust_radius * v
            else:
                p, _, _, _ = prfo_step(lam, V, gu, self.order, self.trust_radius)
            x_new, p = self._carry_out(p)
            if x_new is None:
                continue  # the coordinate set was rebuilt: propose again in the new one
            predicted = float(gu @ p + 0.5 * p @ (self._Hu() @ p))
            x1, e1, f1 = yield x_new
            self._absorb_step(x1, e1, f1, predicted, float(np.linalg.norm(p)))
            need_diag = self._needs_eigensolve()

    # ------------------------------------------------------------------ pieces
    def _start(self, x, energy, f):
        self.coords = InternalCoordinates(self.numbers, x)
        if isinstance(self.hessian_model, str):
            H = model_hessian(self.coords, x, self.hessian_model)
        else:
            H = self._cartesian_to_primitives(self.coords, x, self.hessian_model)
        self.model = HessianModel(self.coords.n_primitives, self.update)
        self.model.set_matrix(H)
        self._make_current(x, energy, f)

    def _make_current(self, x, energy, f):
        self.coords.reset_reference(x)
        if not self.coords.valid_for(x):
            self._rebuild(x)
        self.positions, self.energy, self.forces = x.copy(), float(energy), f.copy()
        self._q, self._B = self.coords.values_and_bmatrix(x)
        self._U, self._g = self._internal_basis_and_gradient(x, self._B, f)

    def _internal_basis_and_gradient(self, x, B, f):
        """Delocalized internals ``U`` and the internal gradient, rigid-body motions left out.

        A linear-bend pair at a bend of 177 degrees, fragment translations and
        rotations (several fragments) or fallback Cartesians see an overall
        rotation or translation of the molecule: ``G = B B'`` then has a
        small eigenvalue along it, and a step or a curvature probe there asks
        for large Cartesian moves and finds zero curvature.  The basis is
        therefore the range of ``B P``, ``P`` the projector off the rigid-body
        modes of `x`, which has the ``3N - 6`` (``3N - 5``) internal motions.
        """
        R, _ = rigid_body_basis(x)
        B_int = B - (B @ R) @ R.T
        U, _ = self.coords.nonredundant_basis(B_int)
        return U, self.coords.gradient(B_int, -f.ravel())

    def _cartesian_to_primitives(self, coords, x, Hx):
        """A Cartesian Hessian seen in the primitives of `coords`; the redundant directions get the model's values."""
        B = coords.bmatrix(x)
        Binv = np.linalg.pinv(B, rcond=1e-8)
        Hq = Binv.T @ Hx @ Binv
        U, _ = coords.nonredundant_basis(B)
        P = U @ U.T
        Q = np.eye(len(P)) - P
        return P @ (0.5 * (Hq + Hq.T)) @ P + Q @ model_hessian(coords, x, "lindh") @ Q

    def _rebuild(self, x, linear=()):
        """New primitives (a bend went linear); the model, negative curvature included, carried through Cartesians."""
        old = self.coords
        B = old.bmatrix(x)
        Hx = B.T @ self.model.B @ B
        self.coords = InternalCoordinates(self.numbers, x, linear=set(linear) | old.forced_linear)
        H = self._cartesian_to_primitives(self.coords, x, Hx)
        self.model = HessianModel(self.coords.n_primitives, self.update)
        self.model.set_matrix(H)
        if self._measured is not None:
            # the measured modes, as Cartesian displacements, in the new primitives
            X = np.linalg.pinv(old.bmatrix(x), rcond=1e-8) @ self._measured
            self._measured = self.coords.bmatrix(x) @ X
        self.n_rebuilds += 1

    def _Hu(self):
        Hu = self._U.T @ self.model.B @ self._U
        return 0.5 * (Hu + Hu.T)

    def _model_eig(self):
        return np.linalg.eigh(self._Hu())

    def _count_negative(self, lam):
        scale = float(np.max(np.abs(lam))) if lam.size else 0.0
        return int(np.count_nonzero(lam < -self.zero_tol * scale))

    def _eigensolve(self):
        """Davidson on finite-difference products of the internal gradient; each product one force call.

        `davidson` pulls its products through a callback; here each one must
        be asked for with a ``yield``.  So the eigensolver is run again from
        the start after every new product, and the callback serves every
        vector in the span of the directions measured so far from the
        products already made (a product is linear in its vector): a rerun
        costs linear algebra only, nothing next to a force call.

        When fewer than `order` Ritz values are negative, the `order` lowest
        model modes outside the measured span join the start block, one at a
        time, at most `order` times: Davidson converges the pairs its start
        block leads to, and a negative mode orthogonal to that block (two
        uncoupled bends of an order-2 saddle) would otherwise stay unseen.
        """
        U, x0, g0, q0 = self._U, self.positions, self._g, self._q
        lam_B, V_B = self._model_eig()
        k, m = self.order, U.shape[1]
        S = np.zeros((m, 0))  # orthonormal measured directions
        Y = np.zeros((m, 0))  # their products

        def apply(v):
            c = S.T @ v
            if np.linalg.norm(v - S @ c) <= 1e-9 * np.linalg.norm(v):
                return Y @ c
            raise _NeedProduct(np.array(v))

        start = V_B[:, :k]
        extensions = 0
        while True:
            try:
                res = davidson(apply, start, k, self.eig_tol, model=(lam_B, V_B), max_products=m,
                               negative=True, floor=_EIG_FLOOR)
            except _NeedProduct as need:
                v = need.vector - S @ (S.T @ need.vector)
                v /= np.linalg.norm(v)
                x_d, _, _ = self.coords.back_transform(x0, self.hvp_step * (U @ v))
                x_d, _, f_d = yield x_d
                q_d, B_d = self.coords.values_and_bmatrix(x_d)
                _, g_d = self._internal_basis_and_gradient(x_d, B_d, f_d)
                s = U.T @ self.coords.difference(q_d, q0)
                # the displacement achieved, along v (the back-transformation may miss the target slightly)
                along = float(s @ v)
                if not along > 0.5 * self.hvp_step:
                    raise RuntimeError(f"the back-transformation failed to displace the molecule along a mode "
                                       f"({along:.3g} of {self.hvp_step:.3g}): the internal coordinates are "
                                       "degenerate here")
                S = np.column_stack([S, v])
                Y = np.column_stack([Y, U.T @ (g_d - g0) / along])
                self.n_products += 1
                continue
            if np.count_nonzero(res.theta < 0) >= k or S.shape[1] >= m or extensions >= k:
                break
            outside = V_B - S @ (S.T @ V_B)
            fresh = np.linalg.norm(outside, axis=0) > 0.1
            if not np.any(fresh):
                break
            start = np.column_stack([res.X[:, :k], outside[:, np.argmax(fresh)]])
            extensions += 1
        # every product is an exact curvature pair (up to the finite difference) in the primitives
        self.model.update(U @ S, U @ Y)
        self.n_eigensolves += 1
        self._since_diag = 0
        self._measured = U @ res.X[:, :k]

    def _carry_out(self, p):
        """Cartesians of the internal step `p`, shortened for `maxstep` and colliding atoms.

        Returns ``(None, None)`` when a bend would pass 170 degrees: the set is
        rebuilt with that bend as a linear pair, and the step must be proposed
        again in it.
        """
        x0 = self.positions
        for _ in range(30):
            dq = self._U @ p
            straightened = self._straightened(dq)
            if straightened:
                self._rebuild(x0, straightened)
                self._make_current(x0, self.energy, self.forces)
                return None, None
            x_new, achieved, _ = self.coords.back_transform(x0, dq)
            if np.linalg.norm(self._U.T @ achieved - p) > 0.5 * np.linalg.norm(p):
                p = 0.5 * p  # the back-transformation diverged: too long a step for these coordinates
                continue
            disp = float(np.sqrt(((x_new - x0) ** 2).sum(axis=1)).max())
            if disp > self.maxstep:
                p = p * (0.9 * self.maxstep / disp)
                continue
            if _too_close(self.numbers, x0, x_new):
                p = 0.5 * p
                continue
            return x_new, p
        return x0.copy(), np.zeros_like(p)  # pragma: no cover - 30 cuts leave a step of 1e-9 of the radius

    def _straightened(self, dq):
        rows = np.nonzero(self.coords.kinds == "angle")[0]
        target = self._q[rows] + dq[rows]
        hit = target > np.pi * (1.0 - 1.0 / 18.0)  # beyond 170 degrees, where a bend has its cusp
        return [self.coords.atoms_of[r] for r in rows[hit]]

    def _absorb_step(self, x, energy, f, predicted, length):
        """The step's point came back: a secant pair for the model, the radius by Sella's rules, and move there."""
        q_new, B_new = self.coords.values_and_bmatrix(x)
        U_new, g_new = self._internal_basis_and_gradient(x, B_new, f)
        P = U_new @ U_new.T
        s = P @ self.coords.difference(q_new, self._q)
        y = P @ (g_new - self._g)
        self.model.update(s[:, None], y[:, None])
        actual = energy - self.energy
        resolution = 1e-12 * max(1.0, abs(energy))
        if abs(predicted) > resolution:
            rho = actual / predicted
            if rho < 1.0 / _RHO_DEC or rho > _RHO_DEC:
                self.trust_radius = max(_SIGMA_DEC * length, self.min_trust_radius)
            elif 1.0 / _RHO_INC < rho < _RHO_INC:
                self.trust_radius = min(max(_SIGMA_INC * length, self.trust_radius), self.max_trust_radius)
        self._make_current(x, energy, f)
        self.n_steps += 1
        if self._since_diag is not None:
            self._since_diag += 1

    def _needs_eigensolve(self):
        lam, V = self._model_eig()
        k = self.order
        if self._since_diag >= self.diag_interval and self._count_negative(lam) < k:
            return True
        if self._measured is None or self.rotation_tol == 0:
            return False
        # the measured modes, seen in the current delocalized internals
        M = self._U.T @ self._measured
        norms = np.linalg.norm(M, axis=0)
        if np.any(norms < 1e-8):
            return True
        overlap = np.linalg.svd((M / norms).T @ V[:, :k], compute_uv=False)
        return bool(overlap.min() < self.rotation_tol)
