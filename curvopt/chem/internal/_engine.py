"""Trust-region quasi-Newton minimization of a molecule in redundant internal coordinates.

One force call per iteration.  At the current point ``x`` the engine forms
the B-matrix, the delocalized internals ``U`` (the range of ``G = B B'``,
Baker, Kessi & Delley [1]_), the internal gradient ``g = G^+ B g_x`` and the
quasi-Newton Hessian ``H`` on the primitives, and solves the trust-region
subproblem ``min g'p + p'Hp/2, ||p|| <= radius`` in ``U`` exactly (by the
eigendecomposition of ``U'HU``, Moré & Sorensen [2]_).  The step is carried
back to Cartesians by the iterative back-transformation.  The next force
call pays for a curvature pair ``(s, y)`` in the primitives, folded into
``H`` by a Powell-damped BFGS update [3]_; rejected trial points give their
pair too.

Acceptance.  A step is accepted when the energy decreases (``actual /
predicted`` above ``eta``), or, near the solution, where the predicted
change is below the energy's round-off (``energy_noise``), when the internal
gradient norm decreases: at |E| ~ 10^3 eV an energy ratio alone stalls
(the lesson of the reference runs with scipy's L-BFGS-B and ASE's
PreconLBFGS on ibuprofen).  A rejected trial costs no extra call: the next
step starts again from the current point with the updated model.

Safeguards.  A step that would carry a bend past 170° rebuilds the
coordinate set with that bend as a linear-bend pair first (a bend angle has
a cusp at 180°, where a quadratic model in it fails), and restarts from the
model Hessian.  A step is shortened when an atom would move more than
`maxstep`, or when two atoms would come closer than half their covalent
contact.

References
----------
.. [1] J. Baker, A. Kessi and B. Delley, "The generation and use of
   delocalized internal coordinates in geometry optimization",
   J. Chem. Phys. 105, 192 (1996).
.. [2] J. J. Moré and D. C. Sorensen, "Computing a trust region step",
   SIAM J. Sci. Stat. Comput. 4, 553 (1983).
.. [3] M. J. D. Powell, "Algorithms for nonlinear constraints that use
   Lagrangian functions", Math. Programming 14, 224 (1978) (the damped
   BFGS update); J. Nocedal and S. J. Wright, *Numerical Optimization*,
   2nd ed., Springer (2006), procedure 18.2.
.. [4] A. Banerjee, N. Adams, J. Simons and R. Shepard, "Search for
   stationary points on surfaces", J. Phys. Chem. 89, 52 (1985) (the
   rational-function step, option ``step='rfo'``).
.. [5] J. M. Bofill, "Updated Hessian matrix and the restricted step method
   for locating transition structures", J. Comput. Chem. 15, 1 (1994).
"""

from __future__ import annotations

import math

import numpy as np
from ase.data import covalent_radii

from ._coordinates import InternalCoordinates
from ._model_hessian import MODELS, model_hessian

__all__ = ["InternalCoordinateOptimizer", "trust_region_step", "rfo_step"]

_UPDATES = ("bfgs", "bofill", "none")
_STEPS = ("trust", "rfo")
# atoms closer than this fraction of the sum of their covalent radii are "too close": shorten the step
TOO_CLOSE = 0.5


def trust_region_step(g, H, radius):
    """Exact solution of ``min g'p + p'Hp/2`` subject to ``||p|| <= radius`` (dense, small).

    Moré & Sorensen [2] in the eigenbasis of ``H``: the Newton step when
    ``H`` is positive definite and the step fits; otherwise the boundary
    step ``-(H + sigma I)^-1 g`` with ``sigma >= max(0, -lambda_min)`` found
    by Newton's method on ``1/||p(sigma)|| - 1/radius``; the hard case adds
    the lowest eigenvector.

    Returns
    -------
    p : ndarray
    on_boundary : bool
    """
    lam, V = np.linalg.eigh(H)
    a = V.T @ g
    if lam[0] > 0:
        p = -V @ (a / lam)
        if np.linalg.norm(p) <= radius:
            return p, False
    lo = max(0.0, -lam[0])
    sigma = lo + 1e-12 * max(1.0, abs(lam[-1]))

    def pnorm(s):
        return np.linalg.norm(a / (lam + s))

    if pnorm(sigma) <= radius:
        # hard case: the gradient has (almost) no component on the lowest mode
        shifted = lam + lo
        ok = shifted > 1e-12 * max(1.0, abs(lam[-1]))
        p = -V @ np.divide(a, shifted, out=np.zeros_like(a), where=ok)
        tau = math.sqrt(max(radius**2 - p @ p, 0.0))
        return p + tau * V[:, 0], True
    for _ in range(100):
        d = lam + sigma
        pn = np.linalg.norm(a / d)
        dpn = -np.sum(a**2 / d**3) / pn
        # Newton on phi(sigma) = 1/||p|| - 1/radius, which is nearly linear in sigma
        phi = 1.0 / pn - 1.0 / radius
        step = -phi / (-dpn / pn**2)
        sigma = max(sigma + step, lo + 0.5 * (sigma - lo))
        if abs(pn - radius) < 1e-10 * radius:
            break
    return -V @ (a / (lam + sigma)), True


def rfo_step(g, H, radius):
    """Rational-function step [4] (lowest eigenvector of the augmented Hessian), scaled into the trust radius."""
    n = g.size
    A = np.zeros((n + 1, n + 1))
    A[:n, :n] = H
    A[:n, n] = A[n, :n] = g
    w, V = np.linalg.eigh(A)
    v = V[:, 0]
    if abs(v[n]) < 1e-12:
        return trust_region_step(g, H, radius)
    p = v[:n] / v[n]
    pn = np.linalg.norm(p)
    if pn > radius:
        return p * (radius / pn), True
    return p, False


class InternalCoordinateOptimizer:
    """Reverse-communication minimizer of a molecule's energy in redundant internal coordinates.

    Feed it one evaluation at a time; it returns the next positions to
    evaluate.  It never calls a calculator itself, so it fits inside an ASE
    ``Optimizer.step()``::

        engine = InternalCoordinateOptimizer(atoms)
        for _ in range(steps):
            atoms.positions = engine.step(atoms.positions, atoms.get_potential_energy(), atoms.get_forces())
            if engine.converged:
                break

    Parameters
    ----------
    atoms : ase.Atoms, optional
        Gives `numbers` (and the initial positions, unused: the first
        `step` call brings its own).  Either `atoms` or `numbers`.
    numbers : array_like of int, optional
        Atomic numbers.
    fmax : float, optional
        Convergence on ASE's criterion, the largest per-atom force norm
        (eV/Å), checked on each evaluation handed to `step`; None: never
        converged by the engine (an ASE ``Optimizer`` checks itself).
    trust_radius : float
        Initial trust radius, the 2-norm of the step in delocalized internals
        (Å and rad mixed, as in [1]).
    max_trust_radius, min_trust_radius : float
        Bounds of the trust radius.
    maxstep : float
        Largest displacement of any atom in one step (Å), as ASE's
        optimizers have it; the internal step is scaled down to respect it.
    hessian : {'lindh', 'simple', 'unit'} or ndarray
        Starting model Hessian on the primitives (see ``_model_hessian``), or
        an explicit Cartesian Hessian (eV/Å^2, shape ``(3N, 3N)``) projected
        on the internals.
    update : {'bfgs', 'bofill', 'none'}
        Quasi-Newton update of the Hessian with each curvature pair:
        Powell-damped BFGS [3] (positive definite), Bofill's SR1/PSB mix [5]
        (can represent negative curvature; the trust region copes), or none.
    step : {'trust', 'rfo'}
        Trust-region subproblem solved exactly, or the RFO step scaled into
        the radius.
    eta : float
        Acceptance threshold on ``actual / predicted`` energy change.
    energy_noise : float
        Energy changes below this (eV) are round-off: the gradient decides.
    probes : int
        Force calls spent at the start on finite-difference curvature along
        the softest directions of the model (each a forward difference of
        length `probe_step` in delocalized internals, folded into the
        Hessian by the same update).  Default 0: on the benchmark molecules
        the model Hessian makes them cost more calls than they save (see
        ``benchmarks/bench_molecules.py --ablation``).

    Attributes
    ----------
    converged : bool
    n_force_calls : int
        Evaluations handed to `step` (each one force call).
    n_rejected, n_rebuilds, n_collisions_avoided : int
        Rejected trial points, rebuilds of the coordinate set (a bend went
        linear), steps shortened because two atoms would have come closer
        than half their covalent contact.
    energy : float
        Energy of the best (current) point (eV).
    positions, forces : ndarray, shape (n, 3)
        Its positions (Å) and forces (eV/Å).
    fmax_history, energy_history : list
        One entry per evaluation.
    """

    def __init__(self, atoms=None, *, numbers=None, fmax=None, trust_radius=0.3, max_trust_radius=1.0,
                 min_trust_radius=1e-4, maxstep=0.5, hessian="lindh", update="bfgs", step="trust", eta=0.05,
                 energy_noise=1e-5, probes=0, probe_step=0.01):
        if atoms is not None:
            numbers = atoms.get_atomic_numbers()
            if np.any(atoms.pbc):
                raise ValueError(
                    "`atoms` is periodic: internal coordinates are for molecules; "
                    "optimize periodic systems in Cartesian coordinates"
                )
        if numbers is None:
            raise ValueError("give `atoms` (an ase.Atoms) or `numbers` (atomic numbers)")
        self.numbers = np.asarray(numbers, dtype=int).ravel()
        for name, val in (("trust_radius", trust_radius), ("max_trust_radius", max_trust_radius),
                          ("min_trust_radius", min_trust_radius), ("maxstep", maxstep)):
            if not (np.isscalar(val) and np.isfinite(val) and val > 0):
                raise ValueError(f"`{name}` must be a positive number; got {val!r}")
        if fmax is not None and not (np.isfinite(fmax) and fmax > 0):
            raise ValueError(f"`fmax` must be a positive number or None; got {fmax!r}")
        if isinstance(hessian, str) and hessian not in MODELS:
            raise ValueError(f"`hessian` must be one of {MODELS} or a (3N, 3N) array; got {hessian!r}")
        if not isinstance(hessian, str):
            hessian = np.asarray(hessian, dtype=float)
            n3 = 3 * self.numbers.size
            if hessian.shape != (n3, n3):
                raise ValueError(f"`hessian` array must have shape ({n3}, {n3}); got {hessian.shape}")
        if update not in _UPDATES:
            raise ValueError(f"`update` must be one of {_UPDATES}; got {update!r}")
        if step not in _STEPS:
            raise ValueError(f"`step` must be one of {_STEPS}; got {step!r}")
        if not (isinstance(probes, (int, np.integer)) and probes >= 0):
            raise ValueError(f"`probes` must be a non-negative integer; got {probes!r}")
        if not (np.isscalar(probe_step) and np.isfinite(probe_step) and probe_step > 0):
            raise ValueError(f"`probe_step` must be a positive number; got {probe_step!r}")
        self.probes = int(probes)
        self.probe_step = float(probe_step)
        self._probe_queue = []
        self._probing = False
        self.fmax = fmax
        self.trust_radius = float(min(trust_radius, max_trust_radius))
        self.max_trust_radius = float(max_trust_radius)
        self.min_trust_radius = float(min_trust_radius)
        self.maxstep = float(maxstep)
        self.hessian_model = hessian
        self.update = update
        self.step_kind = step
        self.eta = float(eta)
        self.energy_noise = float(energy_noise)

        self.coords = None
        self.H = None
        self.converged = False
        self.n_force_calls = 0
        self.n_rejected = 0
        self.n_rebuilds = 0
        self.n_updates = 0
        self.n_collisions_avoided = 0
        self.energy = None
        self.positions = None
        self.forces = None
        self.fmax_history = []
        self.energy_history = []
        self._trial = None

    # ------------------------------------------------------------------ public
    def step(self, positions, energy, forces):
        """Take one evaluation (positions in Å, energy in eV, forces in eV/Å); return the next positions to evaluate."""
        x, energy, f, fmax_now = checked_evaluation(self.numbers.size, positions, energy, forces)
        self.n_force_calls += 1
        self.fmax_history.append(fmax_now)
        self.energy_history.append(energy)
        gx = -f.ravel()

        if self.coords is None:
            self._start(x, energy, gx, f)
        elif self._probing:
            self._absorb_probe(x, gx)
        else:
            self._judge(x, energy, gx, f, fmax_now)
        if self.fmax is not None and fmax_now < self.fmax:
            # a stationary point on ASE's criterion, whether or not the ratio test liked it
            self._make_current(x, energy, gx, f)
            self.converged = True
            return x
        if self._probe_queue:
            self._probing = True
            return self._probe_queue.pop(0)
        self._probing = False
        return self._propose()

    def failed(self):
        """The point last returned could not be evaluated (the calculator failed there): a rejected step.

        The trust radius shrinks as for a rejected trial point (a skipped
        curvature probe is simply dropped) and the next point to evaluate is
        returned; the current point and the model are unchanged.
        """
        if self.coords is None:
            raise RuntimeError("the starting point must be evaluated: there is no step to reject")
        self.n_rejected += 1
        if self._probing:
            self._probing = False
        elif self._trial is not None:
            self.trust_radius = max(self.min_trust_radius, 0.25 * self._trial["norm"])
        if self._probe_queue:
            self._probing = True
            return self._probe_queue.pop(0)
        return self._propose()

    # ------------------------------------------------------------------ internals
    def _start(self, x, energy, gx, f):
        self.coords = InternalCoordinates(self.numbers, x)
        if isinstance(self.hessian_model, str):
            self.H = model_hessian(self.coords, x, self.hessian_model)
        else:
            self.H = self._to_internal(self.coords, x, self.hessian_model)
        self._make_current(x, energy, gx, f)
        if self.probes:
            Hu = self._U.T @ self.H @ self._U
            _, V = np.linalg.eigh(0.5 * (Hu + Hu.T))
            for v in V[:, : self.probes].T:
                xp, _, _ = self.coords.back_transform(x, self.probe_step * (self._U @ v))
                self._probe_queue.append(xp)

    def _absorb_probe(self, x, gx):
        """A curvature probe came back: one more pair for the update, no change of the current point."""
        q_new, B_new = self.coords.values_and_bmatrix(x)
        g_new = self.coords.gradient(B_new, gx)
        U_new, _ = self.coords.nonredundant_basis(B_new)
        P = U_new @ U_new.T
        self._update_pair(P @ self.coords.difference(q_new, self._q), P @ (g_new - self._g))

    def _make_current(self, x, energy, gx, f):
        self.coords.reset_reference(x)
        if not self.coords.valid_for(x):
            self._rebuild(x)
        self.positions, self.energy, self.forces, self._gx = x.copy(), energy, f.copy(), gx.copy()
        self._q, self._B = self.coords.values_and_bmatrix(x)
        self._U, _ = self.coords.nonredundant_basis(self._B)
        self._g = self.coords.gradient(self._B, gx)

    def _to_internal(self, coords, x, Hx):
        B = coords.bmatrix(x)
        Binv = np.linalg.pinv(B, rcond=1e-8)
        Hq = Binv.T @ Hx @ Binv
        Hq = 0.5 * (Hq + Hq.T)
        # the generalized inverse leaves redundant directions at zero; give them the model's values
        U, _ = coords.nonredundant_basis(B)
        P = U @ U.T
        base = model_hessian(coords, x, "lindh")
        return P @ Hq @ P + (np.eye(len(P)) - P) @ base @ (np.eye(len(P)) - P)

    def _rebuild(self, x, linear=()):
        """A bend went (or is about to go) linear: new primitives, the curvature carried over through Cartesians."""
        old = self.coords
        B = old.bmatrix(x)
        Hx = B.T @ self.H @ B
        self.coords = InternalCoordinates(self.numbers, x, linear=set(linear) | old.forced_linear)
        if isinstance(self.hessian_model, str):
            # restart from the model: curvature learned on a bend near its 180-degree cusp misleads the linear pair
            self.H = model_hessian(self.coords, x, self.hessian_model)
        else:
            self.H = self._to_internal(self.coords, x, Hx)
        self.n_rebuilds += 1

    def _judge(self, x, energy, gx, f, fmax_now):
        trial = self._trial
        q_new, B_new = self.coords.values_and_bmatrix(x)
        s = self.coords.difference(q_new, self._q)
        g_new = self.coords.gradient(B_new, gx)
        if self.update != "none":
            U_new, _ = self.coords.nonredundant_basis(B_new)
            P = U_new @ U_new.T
            self._update_pair(P @ s, P @ (g_new - self._g))
        actual = energy - self.energy
        predicted = trial["predicted"]
        pnorm = trial["norm"]
        ratio = actual / predicted if predicted < 0 else -1.0
        accept = ratio > self.eta
        if not accept and abs(predicted) < self.energy_noise and actual < self.energy_noise:
            # round-off regime: the energy cannot tell, the gradient can
            accept = np.linalg.norm(g_new) < np.linalg.norm(self._g)
            if accept:
                ratio = 0.5  # keep the radius
        if ratio < 0.25:
            self.trust_radius = max(self.min_trust_radius, 0.25 * pnorm)
        elif ratio > 0.75 and trial["boundary"]:
            self.trust_radius = min(self.max_trust_radius, 2.0 * self.trust_radius)
        if accept:
            self._make_current(x, energy, gx, f)
        else:
            self.n_rejected += 1

    def _update_pair(self, s, y):
        """Powell-damped BFGS: keeps ``H`` positive definite whatever the pair (or Bofill's update, see `update`)."""
        if self.update == "bofill":
            self._bofill(s, y)
            return
        Hs = self.H @ s
        sHs = float(s @ Hs)
        sy = float(s @ y)
        if sHs <= 1e-14 or s @ s < 1e-16:
            return
        if sy < 0.2 * sHs:
            theta = 0.8 * sHs / (sHs - sy)
            y = theta * y + (1 - theta) * Hs
            sy = float(s @ y)
        self.H = self.H + np.outer(y, y) / sy - np.outer(Hs, Hs) / sHs
        self.n_updates += 1

    def _bofill(self, s, y):
        """Bofill's mix of SR1 and Powell-symmetric-Broyden [5]: may turn ``H`` indefinite, so a saddle is seen."""
        ss = float(s @ s)
        if ss < 1e-16:
            return
        r = y - self.H @ s
        rs = float(r @ s)
        rr = float(r @ r)
        phi = rs**2 / (rr * ss) if rr > 0 else 1.0
        sr1 = np.outer(r, r) / rs if abs(rs) > 1e-8 * math.sqrt(rr * ss) else 0.0
        psb = (np.outer(r, s) + np.outer(s, r)) / ss - rs * np.outer(s, s) / ss**2
        self.H = self.H + phi * sr1 + (1 - phi) * psb
        self.n_updates += 1

    def _propose(self):
        U, g = self._U, self._g
        gu = U.T @ g
        Hu = U.T @ self.H @ U
        Hu = 0.5 * (Hu + Hu.T)
        radius = self.trust_radius
        x0 = self.positions
        for _ in range(30):
            solve = trust_region_step if self.step_kind == "trust" else rfo_step
            p, boundary = solve(gu, Hu, radius)
            dq = U @ p
            straightened = self._straightened(dq)
            if straightened:
                # an angle would pass through 180 degrees, where it has a cusp: model that bend by a linear pair
                self._rebuild(x0, straightened)
                self._make_current(x0, self.energy, self._gx, self.forces)
                return self._propose()
            x_new, _, _ = self.coords.back_transform(x0, dq)
            disp = float(np.sqrt(((x_new - x0) ** 2).sum(axis=1)).max())
            if disp > self.maxstep:
                radius = float(np.linalg.norm(p)) * 0.9 * self.maxstep / disp
                continue
            if _too_close(self.numbers, x0, x_new):
                radius = 0.5 * float(np.linalg.norm(p))
                self.n_collisions_avoided += 1
                continue
            break
        else:  # pragma: no cover - 30 halvings leave a step of 1e-9 of the radius
            x_new, p, boundary = x0.copy(), np.zeros_like(gu), True
        self.trust_radius = min(self.trust_radius, max(radius, self.min_trust_radius))
        predicted = float(gu @ p + 0.5 * p @ Hu @ p)
        self._trial = {"predicted": predicted, "norm": float(np.linalg.norm(p)),
                       "boundary": bool(boundary or radius < self.trust_radius)}
        return x_new

    def _straightened(self, dq):
        rows = np.nonzero(self.coords.kinds == "angle")[0]
        target = self._q[rows] + dq[rows]
        hit = target > np.pi * (1.0 - 1.0 / 18.0)  # beyond 170 degrees
        return [self.coords.atoms_of[r] for r in rows[hit]]


def checked_evaluation(n, positions, energy, forces):
    """One evaluation handed to an engine's ``step``, checked: ``(x, energy, f, fmax)`` with
    ``x``, ``f`` of shape (n, 3) and ``fmax`` ASE's measure (the largest per-atom force)."""
    x = np.array(positions, dtype=float).reshape(-1, 3)
    f = np.array(forces, dtype=float).reshape(-1, 3)
    if x.shape != (n, 3) or f.shape != (n, 3):
        raise ValueError(f"`positions` and `forces` must have shape ({n}, 3); got {x.shape} and {f.shape}")
    energy = float(energy)
    if not (np.isfinite(energy) and np.all(np.isfinite(f)) and np.all(np.isfinite(x))):
        raise ValueError("`positions`, `energy` and `forces` must be finite")
    return x, energy, f, float(np.sqrt((f**2).sum(axis=1)).max())


def _too_close(numbers, x_old, x_new):
    """A pair of atoms ends closer than TOO_CLOSE times its covalent contact and closer than it was."""
    r = covalent_radii[numbers]
    lim = TOO_CLOSE * (r[:, None] + r[None, :])
    d_new = np.linalg.norm(x_new[:, None] - x_new[None, :], axis=-1)
    d_old = np.linalg.norm(x_old[:, None] - x_old[None, :], axis=-1)
    bad = (d_new < lim) & (d_new < d_old)
    np.fill_diagonal(bad, False)
    return bool(bad.any())
