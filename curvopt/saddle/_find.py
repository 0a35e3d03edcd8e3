"""`find_saddle`: saddle points of a given order by minimum-mode following."""

from __future__ import annotations

import collections
import math
import numbers

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator

from .._oracle import OracleError, check_initial_point, make_oracle
from .._result import Status
from .._rigid import rigid_body_basis
from .._run import Run, execute
from .._validation import as_finite_vector
from ..hvp.backends import FiniteDifferenceHVP
from ..hvp._resolve import make_backend
from ._davidson import davidson
from ._model import UPDATES, HessianModel, _independent
from ._step import prfo_step, trust_length

__all__ = ["find_saddle", "rigid_body_modes", "DEFAULT_OPTIONS"]

_EPS = np.finfo(float).eps
_SQRT_EPS = math.sqrt(_EPS)
# Resolution of f relative to |f| below which an energy change is round-off.
_F_RESOLUTION = 100 * _EPS
_MAX_CONSECUTIVE_FAILURES = 10
# Steps remembered for the order check: only those that ended within the reach of the
# finite-difference products count, and near convergence steps shrink fast.
_RECENT_STEPS = 8
# Sella's trust-radius rules for saddle searches (Hermes et al. 2022, its defaults
# rho_dec, rho_inc, sigma_dec, sigma_inc): shrink to 0.65 |s| when rho is outside
# [1/5, 5], grow to 1.15 |s| when rho is within 3.5 % of 1.
_RHO_DEC, _RHO_INC, _SIGMA_DEC, _SIGMA_INC = 5.0, 1.035, 0.65, 1.15

#: Every option of `find_saddle` with its default (see its docstring for where each comes from).
DEFAULT_OPTIONS = {
    "gtol": 1e-4,
    "measure": None,
    "maxiter": 1000,
    "max_grad_calls": None,
    "initial_trust_radius": 0.1,
    "max_trust_radius": 1.0,
    "min_trust_radius": 1e-4,
    "trust_norm": "2",
    "eig_tol": 0.1,
    "hvp_step": 1e-4,
    "update": "ts-bfgs",
    "diag_interval": 3,
    "diag_every": None,
    "deflate": None,
    "final_check": "davidson",
    "zero_tol": 1e-3,
    "max_kicks": 3,
    "hess0": None,
    "seed": 0,
    "disp": False,
    "return_all": False,
    "callback": None,
}

_COLUMNS = (
    ("f", 15, ".8e"),
    ("gmax", 10, ".3e"),
    ("step", 10, ".3e"),
    ("trust_radius", 12, ".3e"),
    ("lambda_1", 11, ".3e"),
    ("njev", 7, "d"),
)

_WRONG_ORDER = (
    "The gradient test holds, but the Hessian there has {found} negative eigenvalue(s), not {order}: "
    "a stationary point of the wrong order (leaving it along the offending modes failed {kicks} time(s))."
)


def rigid_body_modes(x):
    """Orthonormal basis of the rigid translations and rotations of a set of points.

    Parameters
    ----------
    x : array_like, shape (3 N,)
        Cartesian coordinates ``[x1, y1, z1, x2, ...]``.

    Returns
    -------
    ndarray, shape (3 N, m)
        ``m = 6`` in general, 5 for collinear points, 3 for a single point:
        the directions along which an energy invariant under translations and
        rotations does not change to first order (and, at a stationary point,
        to second order: they are the zero modes of its Hessian).
    """
    x = np.asarray(x, dtype=float).reshape(-1)
    if x.size % 3:
        raise ValueError(f"rigid-body modes need 3-D coordinates (a size divisible by 3); got size {x.size}")
    return np.ascontiguousarray(rigid_body_basis(x.reshape(-1, 3))[0])


class _Deflation:
    """The directions left out of the search, at each point: None, fixed, or a function of x."""

    def __init__(self, spec, n):
        self.n = n
        self.fixed = None
        self.function = None
        if spec is None:
            return
        if isinstance(spec, str):
            if spec.lower() not in ("rigid-body", "rigid_body", "rigid"):
                raise ValueError(f"option `deflate` must be None, 'rigid-body', an array or a callable; got {spec!r}")
            if n % 3:
                raise ValueError(f"option deflate='rigid-body' needs 3-D coordinates (n divisible by 3); got n = {n}")
            self.function = rigid_body_modes
        elif callable(spec):
            self.function = spec
        else:
            self.fixed = self._orthonormal(spec, "deflate")

    def _orthonormal(self, D, name):
        try:
            D = np.array(D, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"option `{name}` must be an (n, m) array of real numbers; {exc}") from None
        if D.ndim == 1:
            D = D[:, None]
        if D.ndim != 2 or D.shape[0] != self.n:
            raise ValueError(f"option `{name}` must have shape ({self.n}, m); got shape {D.shape}")
        if not np.all(np.isfinite(D)):
            raise ValueError(f"option `{name}` must be finite")
        if D.shape[1] == 0:
            return None
        U, s, _ = np.linalg.svd(D, full_matrices=False)
        if s[0] == 0.0:
            return None
        return np.ascontiguousarray(U[:, s > 1e-10 * s[0]])

    def at(self, x):
        if self.function is None:
            return self.fixed
        return self._orthonormal(self.function(x.copy()), "deflate")


def _project(v, D):
    if D is None:
        return v
    return v - D @ (D.T @ v)


def _check_order(order, n, n_free):
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Integral):
        raise ValueError(f"`order` must be an integer; got {order!r}")
    order = int(order)
    if order < 0:
        raise ValueError(f"`order` must be >= 0 (the number of negative Hessian eigenvalues); got {order}")
    if order >= n_free:
        where = f"n = {n}" if n_free == n else f"n - (deflated directions) = {n_free}"
        raise ValueError(f"`order` must be smaller than the dimension ({where}); got order = {order}")
    return order


def _checked_options(options, n):
    opts = dict(DEFAULT_OPTIONS)
    if options is not None:
        if not isinstance(options, dict):
            raise ValueError(f"`options` must be a dict; got {type(options).__name__}")
        unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
        if unknown:
            raise ValueError(f"unknown option(s) for find_saddle: {', '.join(unknown)}; "
                             f"valid: {', '.join(sorted(DEFAULT_OPTIONS))}")
        opts.update(options)

    def positive(name, allow_none=False, strict=True):
        v = opts[name]
        if v is None and allow_none:
            return
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and (v > 0 if strict else v >= 0)
        if not ok:
            raise ValueError(f"option `{name}` must be a finite number {'>' if strict else '>='} 0; got {v!r}")
        opts[name] = float(v)

    def integer(name, minimum, allow_none=False):
        v = opts[name]
        if v is None and allow_none:
            return
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum:
            raise ValueError(f"option `{name}` must be an integer >= {minimum}; got {v!r}")
        opts[name] = int(v)

    positive("gtol", strict=False)
    if opts["measure"] is not None and not callable(opts["measure"]):
        raise ValueError(f"option `measure` must be None or a callable measure(g) -> float; "
                         f"got {type(opts['measure']).__name__}")
    for name in ("initial_trust_radius", "max_trust_radius", "min_trust_radius", "eig_tol", "hvp_step"):
        positive(name)
    positive("zero_tol", strict=False)
    integer("maxiter", 0)
    integer("max_grad_calls", 1, allow_none=True)
    integer("diag_interval", 0)
    integer("diag_every", 1, allow_none=True)
    integer("max_kicks", 0)
    if opts["min_trust_radius"] > opts["max_trust_radius"]:
        raise ValueError("option `min_trust_radius` must not exceed `max_trust_radius`")
    opts["initial_trust_radius"] = min(max(opts["initial_trust_radius"], opts["min_trust_radius"]),
                                       opts["max_trust_radius"])
    if opts["trust_norm"] not in ("2", "atoms"):
        raise ValueError(f"option `trust_norm` must be '2' or 'atoms'; got {opts['trust_norm']!r}")
    if opts["trust_norm"] == "atoms" and n % 3:
        raise ValueError(f"option trust_norm='atoms' needs 3-D coordinates (n divisible by 3); got n = {n}")
    if opts["update"] not in UPDATES:
        raise ValueError(f"option `update` must be one of {UPDATES}; got {opts['update']!r}")
    if opts["final_check"] not in ("davidson", "lanczos", "model"):
        raise ValueError(f"option `final_check` must be 'davidson', 'lanczos' or 'model'; got {opts['final_check']!r}")
    if opts["hess0"] is not None:
        H0 = opts["hess0"]
        try:
            H0 = np.array(H0, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"option `hess0` must be an (n, n) array; {exc}") from None
        if H0.shape != (n, n) or not np.all(np.isfinite(H0)):
            raise ValueError(f"option `hess0` must be a finite ({n}, {n}) array; got shape {H0.shape}")
        opts["hess0"] = H0
    return opts


class _Operator(LinearOperator):
    """The Hessian at the backend's point, for `curvopt.eigen.eigenmodes`."""

    def __init__(self, apply, n, record):
        super().__init__(dtype=np.float64, shape=(n, n))
        self._apply = apply
        self._record = record

    def _matvec(self, v):
        v = np.ascontiguousarray(np.asarray(v, dtype=float).reshape(-1))
        hv = self._apply(v)
        self._record.append((v.copy(), hv.copy()))
        return hv

    def _adjoint(self):
        return self


class _Search:
    """One run of minimum-mode following; `body` is the solver body for `curvopt._run.execute`."""

    def __init__(self, n, order, opts, deflation, backend):
        self.n = n
        self.order = order
        self.opts = opts
        self.deflation = deflation
        self.backend = backend
        self.model = HessianModel(n, opts["update"])
        if opts["hess0"] is not None:
            self.model.set_matrix(opts["hess0"])
        self.radius = opts["initial_trust_radius"]
        self.rng = np.random.default_rng(opts["seed"])
        self.since_diag = None
        self.n_eigensolves = 0
        self.kicks = 0
        self.ritz_scale = 0.0
        self.secant_curvatures = collections.deque(maxlen=5)
        self.recent_steps = collections.deque(maxlen=_RECENT_STEPS)  # (x before, s, y)
        self.check = None  # (theta, X, residuals, converged, source) at the current point

    # -- products at the current point
    def _linearize(self, run):
        backend = self.backend
        backend.linearize(run.x, run.g)
        if isinstance(backend, FiniteDifferenceHVP):
            xnorm = float(np.linalg.norm(run.x))
            h = max(self.opts["hvp_step"], _SQRT_EPS * (1.0 + xnorm))
            backend.rel_step = h / (1.0 + xnorm)

    def _apply(self, v):
        hv = self.backend(np.ascontiguousarray(v))
        if not np.all(np.isfinite(hv)):
            raise OracleError("non-finite Hessian-vector product (the gradient is not finite near the point)")
        return hv

    def _model_modes(self, D):
        if self.model.B is None:
            return None
        return self.model.eig(D)

    def _start_block(self, run, D, count):
        modes = self._model_modes(D)
        if modes is not None:
            return modes[1][:, :count]
        g = _project(run.g, D)
        cols = [g] if np.any(g) else []
        extra = count - len(cols)
        if extra > 0:
            cols.extend(self.rng.standard_normal((extra, self.n)))
        return np.column_stack(cols)

    # -- eigensolves
    def refresh(self, run, D):
        """Davidson at the current point, preconditioned by the model: the `order` lowest
        modes and every mode whose Ritz value is negative (Sella's rule: the model then
        knows the whole negative subspace, which the step partitions)."""
        n_free = self.n - (0 if D is None else D.shape[1])
        self._linearize(run)
        k = max(self.order, 1)
        res = davidson(self._apply, self._start_block(run, D, k), k, self.opts["eig_tol"],
                       model=self._model_modes(D), D=D, max_products=n_free, rng=self.rng, negative=True)
        self.model.update(res.S, res.Y)
        self.n_eigensolves += 1
        self.since_diag = 0
        self.ritz_scale = res.scale
        return res

    def final_check(self, run, D):
        """The lowest ``order + 1`` eigenpairs at the current point (see the docstring of find_saddle)."""
        n_free = self.n - (0 if D is None else D.shape[1])
        m = min(self.order + 1, n_free)
        mode = self.opts["final_check"]
        if mode == "model" and self.model.B is not None:
            lam, V = self.model.eig(D)
            return lam[:m], V[:, :m], np.full(m, np.nan), True, "model"
        self._linearize(run)
        if mode == "lanczos" and m < n_free:
            from ..eigen import eigenmodes

            record = []
            op = _Operator(self._apply, self.n, record)
            X0 = self._start_block(run, D, 1)[:, 0]
            X0 = _project(X0, D)
            if not np.any(X0):
                X0 = None
            res = eigenmodes(op, k=m, which="smallest", tol=self.opts["eig_tol"], v0=X0, deflate=D,
                             rng=self.rng, scale=0.0, check_degeneracy=True)
            if record:
                S = np.column_stack([v for v, _ in record])
                Y = np.column_stack([hv for _, hv in record])
                self.model.update(S, Y)
            self.n_eigensolves += 1
            self.since_diag = 0
            return res.eigenvalues, res.eigenvectors, res.residual_norms, bool(res.converged), "products"
        # Products converge the `order` lowest modes (the ones that must be negative; one
        # mode for order 0); the next ones are the model's, in the complement of those.
        k = max(self.order, 1)
        # The k lowest Ritz values bound the k lowest eigenvalues from above (Cauchy
        # interlacing): once they are all clearly negative, the order is proven and more
        # products would only sharpen the reported values.  (For order 0 a bound from
        # above proves nothing: the lowest pair must converge.)
        enough = (lambda theta, residuals: self._count_negative(theta) >= k) if self.order else None
        res = davidson(self._apply, self._start_block(run, D, k), k, self.opts["eig_tol"],
                       model=self._model_modes(D), D=D, max_products=n_free, rng=self.rng, enough=enough,
                       known=self._nearby_secants(run, D))
        self.model.update(res.S, res.Y)
        self.n_eigensolves += 1
        self.since_diag = 0
        self.ritz_scale = res.scale
        theta, X, resid = res.theta[:k], res.X[:, :k], res.residual_norms[:k]
        if m > k:
            C = X if D is None else np.hstack([D, X])
            C, _ = np.linalg.qr(C)
            lam, V = self.model.eig(C)
            theta = np.concatenate([theta, lam[: m - k]])
            X = np.hstack([X, V[:, : m - k]])
            resid = np.concatenate([resid, np.full(m - k, np.nan)])
        source = "products" if m == k else "products+model"
        return theta, X, resid, bool(res.converged), source

    def _nearby_secants(self, run, D):
        """The secant pairs of the last steps that lie within `hvp_step` of x, as products at x.

        A forward-difference product is the secant ``(g(x + h v) - g(x)) / h`` of a segment
        of length h at x; the secant of a step whose segment lies within h of x is a product
        of the same accuracy, already paid for.  Near convergence the steps are that short,
        and their pairs often settle the order check with no new gradient call.
        """
        reach = self.opts["hvp_step"]
        S, Y = [], []
        for x_before, s, y in reversed(self.recent_steps):
            if max(np.linalg.norm(run.x - x_before), np.linalg.norm(run.x - x_before - s)) > reach:
                break  # older steps are farther still
            S.append(_project(s, D))
            Y.append(_project(y, D))
        if not S:
            return None
        # a step nearly parallel to the later ones would only amplify their differencing
        # noise (by 1 / sin of the angle): keep steps at least ~6 degrees apart
        S, Y = _independent(np.column_stack(S), np.column_stack(Y), rtol=0.1)
        if S.shape[1] == 0:
            return None
        Q, R = np.linalg.qr(S)
        AQ = scipy.linalg.solve_triangular(R, Y.T, trans="T").T  # Y R^-1: the products of Q
        return Q, AQ

    def _needs_refresh(self, D):
        if self.order == 0:
            return False
        if self.model.B is None or self.since_diag is None:
            return True
        every = self.opts["diag_every"]
        if every is not None and self.since_diag >= every:
            return True
        if self.since_diag < self.opts["diag_interval"]:
            return False
        lam = self.model.eig(D)[0]
        return bool(np.any(lam[: self.order] >= 0.0))

    def _count_negative(self, theta):
        """Eigenvalues below ``-zero_tol * S``, S the scale of the curvature measured at and
        near the point: the eigenvalues themselves, the Ritz values of the last eigensolve
        and the secant curvatures of the last steps (the model's own extreme eigenvalues may
        be stale, from far away)."""
        scale = max([float(np.max(np.abs(theta))) if theta.size else 0.0, self.ritz_scale, *self.secant_curvatures])
        return int(np.count_nonzero(theta < -self.opts["zero_tol"] * scale))

    # -- steps
    def _take(self, run, s, predicted):
        """Evaluate x + s and move there; False when the point failed (non-finite or an exception)."""
        x_trial = run.x + s
        try:
            f_trial, g_trial = run.oracle.value_and_gradient(x_trial)
        except OracleError:
            f_trial, g_trial = math.nan, None
        if g_trial is None or not (math.isfinite(f_trial) and np.all(np.isfinite(g_trial))):
            run.n_nonfinite += 1
            return False, None
        actual = f_trial - run.f
        y = g_trial - run.g
        self.recent_steps.append((run.x.copy(), s.copy(), y.copy()))
        self.model.update(s[:, None], y[:, None])
        self.secant_curvatures.append(abs(float(s @ y)) / float(s @ s))
        self.ritz_scale = 0.0  # Ritz values describe the point they were computed at
        resolution = _F_RESOLUTION * max(abs(run.f), abs(f_trial))
        rho = actual / predicted if predicted is not None and abs(predicted) > resolution else None
        run.move_to(x_trial, f_trial, g_trial)
        run.nit += 1
        if self.since_diag is not None:
            self.since_diag += 1
        self.check = None
        return True, rho

    def _update_radius(self, rho, length):
        """Sella's rules (Hermes et al. 2022), on rho = actual / predicted change of f."""
        o = self.opts
        if rho is None:
            return
        if rho < 1.0 / _RHO_DEC or rho > _RHO_DEC:
            self.radius = max(_SIGMA_DEC * length, o["min_trust_radius"])
        elif 1.0 / _RHO_INC < rho < _RHO_INC:
            self.radius = min(max(_SIGMA_INC * length, self.radius), o["max_trust_radius"])

    def _kick(self, run, D, theta, X, found):
        """A step off a stationary point of the wrong order, along the offending mode."""
        if found < self.order:
            v = X[:, found]  # should be uphill but is not: climb along it
            if float(run.g @ v) < 0.0:
                v = -v
        else:
            v = X[:, self.order]  # an extra negative mode: go down along it
            if float(run.g @ v) > 0.0:
                v = -v
        v = _project(v, D)
        length = trust_length(v, self.opts["trust_norm"])
        return v * (self.radius / length)

    def stationarity(self, gp):
        """The measure `gtol` bounds, of the projected gradient: the user's, or the largest component."""
        measure = self.opts["measure"]
        if measure is None:
            return float(np.max(np.abs(gp)))
        value = measure(gp.copy())
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"option `measure` must return a real number; got {value!r}") from None
        if math.isnan(value):
            raise ValueError("option `measure` returned NaN")
        return value

    # -- the loop
    def body(self, run):
        o = self.opts
        order = self.order
        failures = 0
        while True:
            D = self.deflation.at(run.x)
            gp = _project(run.g, D)
            s = None
            if self.stationarity(gp) <= o["gtol"]:
                if self.check is None:
                    self.check = self.final_check(run, D)
                theta, X, res, converged, source = self.check
                found = self._count_negative(theta)
                self._record(run, theta, X, res, found, source)
                if found == order and converged:
                    return Status.SUCCESS
                if found == order or self.kicks >= o["max_kicks"] or run.nit >= o["maxiter"]:
                    run.extra["wrong_order"] = found != order
                    return Status.SADDLE_POINT
                self.kicks += 1
                s = self._kick(run, D, theta, X, found)
                predicted = self.model.quadratic(run.g, s)
            elif run.nit >= o["maxiter"]:
                return Status.MAXITER
            else:
                if self._needs_refresh(D):
                    self.refresh(run, D)
                if self.model.B is None:  # order 0 and no curvature yet: steepest descent in the trust region
                    s = -gp * (self.radius / trust_length(gp, o["trust_norm"]))
                    predicted = float(run.g @ s)
                else:
                    lam, V = self.model.eig(D)
                    s, predicted, _, _ = prfo_step(lam, V, gp, order, self.radius, o["trust_norm"])
            length = trust_length(s, o["trust_norm"])
            ok, rho = self._take(run, s, predicted)
            if not ok:
                failures += 1
                if failures >= _MAX_CONSECUTIVE_FAILURES:
                    return Status.NAN_RESULT
                self.radius = max(0.25 * length, o["min_trust_radius"])
                continue
            failures = 0
            self._update_radius(rho, length)
            lam1 = None
            if self.model.B is not None:
                lam1 = float(self.model.eig(self.deflation.at(run.x))[0][0])
            if run.end_of_iteration(f=run.f, gmax=self.stationarity(_project(run.g, self.deflation.at(run.x))),
                                    step=length, trust_radius=self.radius, lambda_1=lam1, njev=run.oracle.njev):
                return Status.CALLBACK

    def _record(self, run, theta, X, res, found, source):
        run.extra.update(order_found=found, eigenvalues=np.array(theta, dtype=float),
                         eigenvectors=np.array(X, dtype=float), eigen_residuals=np.array(res, dtype=float),
                         eigen_source=source)

    def finish(self, run, status):
        """The result keys that describe the returned point's curvature when no check ran there."""
        if "order_found" in run.extra and self.check is not None:
            return
        D = self.deflation.at(run.x)
        n_free = self.n - (0 if D is None else D.shape[1])
        m = min(self.order + 1, n_free)
        if self.model.B is None:
            run.extra.update(order_found=None, eigenvalues=np.full(m, np.nan), eigenvectors=np.full((self.n, m), np.nan),
                             eigen_residuals=np.full(m, np.nan), eigen_source="none")
            return
        lam, V = self.model.eig(D)
        self._record(run, lam[:m], V[:, :m], np.full(m, np.nan), self._count_negative(lam[:m]), "model")


def find_saddle(fun, x0, jac=None, args=(), order=1, hessp=None, options=None):
    """Find a saddle point of a given order by minimum-mode following.

    Converges to a stationary point whose Hessian has exactly `order`
    negative eigenvalues (order 1: a transition state; order 0: a minimum),
    using only gradients: curvature comes from Hessian-vector products made by
    finite differences of the gradient (or autograd, or the user's `hessp`),
    kept in a quasi-Newton model of the Hessian between iterations.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``, or ``(float, ndarray)`` with ``jac=True``.
    x0 : array_like, shape (n,)
        Starting point (finite).
    jac : callable, True, {'autograd', '2-point', '3-point'} or None
        The gradient, resolved as by `curvopt.minimize`: a callable
        ``jac(x, *args)``; True when `fun` returns ``(f, g)`` (one call gives
        both, the usual interface of electronic-structure codes); autograd;
        finite differences of `fun`.  None: autograd when it can trace `fun`,
        otherwise forward differences with a warning.
    args : tuple
        Extra arguments of `fun`, `jac` and `hessp`.
    order : int
        Number of negative Hessian eigenvalues wanted, ``0 <= order < n``
        (``n`` less the number of deflated directions, see `deflate`).
    hessp : callable or {'2-point', '3-point', 'autograd'}, optional
        How Hessian-vector products are made, as in `curvopt.minimize`: the
        user's ``hessp(x, p, *args)``, forward differences of the gradient
        (one gradient call per product; the default unless the gradient comes
        from autograd), central differences (two calls, error O(h^2)), or
        exact autograd products (the default when the gradient is autograd's).
    options : dict, optional
        ``gtol`` : float, default 1e-4
            Stop when ``measure(P g) <= gtol`` (``P`` projects out the deflated
            directions) -- and the order check passes.  curvopt's and scipy's
            trust-region default.
        ``measure`` : callable, optional
            ``measure(g) -> float``, the stationarity measure `gtol` bounds;
            default the largest component ``||P g||_inf``.  Chemists' ``fmax``
            is the largest per-atom force norm,
            ``lambda g: np.linalg.norm(g.reshape(-1, 3), axis=1).max()``, up to
            sqrt(3) times the default: passing it stops exactly at ASE's test
            instead of at the stricter ``gtol = fmax / sqrt(3)``.
        ``maxiter`` : int, default 1000
            Steps (each costs one gradient call plus any products).
        ``max_grad_calls`` : int, optional
            Budget on gradient calls, products included (status 5 when used up).
        ``initial_trust_radius`` : float, default 0.1
            Sella's ``delta0`` for saddle searches (in Ångström there).
        ``max_trust_radius``, ``min_trust_radius`` : float, default 1.0 and 1e-4
            Bounds of the radius; the floor is Sella's (its ``eta``), the cap
            curvopt's (Sella has none): ten times the initial radius.
        ``trust_norm`` : {'2', 'atoms'}, default '2'
            The step length the radius bounds: Euclidean, or the largest
            displacement of one atom (coordinates taken as consecutive
            3-vectors; Sella's restricted atomic step, its default).
        ``eig_tol`` : float, default 0.1
            Eigensolver test ``||H v - theta v|| <= eig_tol * max(|theta|, 1e-3 theta_max)``
            (``theta_max`` the largest absolute Ritz value of the eigensolver's basis):
            Sella's ``gamma``; loose on purpose, as a mode needs only to point
            the right way (its Ritz value's error is second order).
        ``hvp_step`` : float, default 1e-4
            Length of the finite-difference displacement ``h ||v||`` of a
            product (absolute, in the units of x; floored at
            ``sqrt(eps)(1 + ||x||)``).  Sella's ``eta``: large enough for the
            noisy gradients of electronic-structure codes and Ångström-scale
            coordinates; its O(h) error of the curvature is harmless for mode
            following.  Rescale it with the coordinates.
        ``update`` : {'ts-bfgs', 'psb', 'bofill'}, default 'ts-bfgs'
            Quasi-Newton update of the model (see Notes).
        ``diag_interval`` : int, default 3
            Steps after an eigensolve before the model alone may trigger the
            next (Sella's ``nsteps_per_diag``).
        ``diag_every`` : int, optional
            Force an eigensolve every so many steps (Sella's ``diag_every_n``).
        ``deflate`` : None, 'rigid-body', array (n, m) or callable
            Directions left out of the search: steps, the gradient test, the
            eigensolves and the order count all live in their orthogonal
            complement.  'rigid-body' takes x as 3-D coordinates of points and
            deflates their translations and rotations (`rigid_body_modes`,
            recomputed at every point); a callable ``deflate(x) -> (n, m)``
            does the same for the user's own directions.
        ``final_check`` : {'davidson', 'lanczos', 'model'}, default 'davidson'
            How the order is checked where the gradient test holds (see Notes).
        ``zero_tol`` : float, default 1e-3
            An eigenvalue counts as negative below ``-zero_tol * ||H||`` (the
            forward-difference error of the curvature is about ``1e-4`` of
            ``||H||`` at the default step): near-zero modes that were not
            deflated count as zero, not as negative.
        ``max_kicks`` : int, default 3
            At a stationary point of the wrong order, steps of one trust
            radius along the offending mode before giving up.
        ``hess0`` : array (n, n), optional
            Initial model Hessian (e.g. from a cheaper method); otherwise the
            model starts from the first eigensolve's products.
        ``seed`` : int, default 0
            For the random start vectors some eigensolves need.
        ``disp``, ``return_all``, ``callback`` :
            Progress table, the list of iterates (``allvecs``), and
            ``callback(intermediate_result)`` or ``callback(xk)`` after each
            step (raise `StopIteration` to stop), as in `curvopt.minimize`.

    Returns
    -------
    OptimizeResult
        ``x, fun, jac, nit, nfev, njev, nhev, n_hvp, status, success,
        message`` as in `curvopt.minimize` (``njev`` counts every gradient
        call, those inside finite-difference products included), and:

        ``order_found`` : int
            Number of negative eigenvalues among ``eigenvalues``.
        ``eigenvalues``, ``eigenvectors`` : ndarray (m,), (n, m)
            The ``m = order + 1`` lowest eigenpairs at ``x`` (Ritz pairs from
            products when ``eigen_source == 'products'``, else the model's).
        ``eigen_residuals`` : ndarray (m,)
            Their residual norms ``||H v - theta v||`` (NaN for the model's).
        ``eigen_source`` : {'products', 'products+model', 'model', 'none'}
            Where those pairs come from ('products+model': the lowest `order`
            from products, the next from the model).
        ``n_eigensolves`` : int
            Eigensolves run.
        ``trust_radius`` : float
            The final radius.

        ``success`` is True only when the gradient test holds and the check
        found exactly `order` negative eigenvalues, proven by Ritz values from
        products at ``x`` (or, for order 0, a converged lowest Ritz pair).
        At a stationary point of another order the status is 10
        (``Status.SADDLE_POINT``: a stationary point of the wrong kind) with a
        message saying how many negative eigenvalues it has.

    Raises
    ------
    ValueError
        Non-finite or non-1-D `x0`, `order` not an integer in ``[0, n)``,
        unknown or invalid options, or a `fun`/`jac` that fails at x0.

    Notes
    -----
    **Method.**  Each iteration takes one partitioned rational-function
    (P-RFO) step (Banerjee et al. 1985; Baker 1986) in the eigenbasis of a
    dense quasi-Newton model ``B`` of the Hessian: uphill along its `order`
    lowest modes, downhill along the rest -- Cerjan & Miller's (1981)
    eigenvector following, or minimization of Helgaker's image function --
    restricted to the trust region by a common level shift.  The trust radius
    follows Sella's rules on ``rho`` = actual / predicted change of ``f``
    (shrink to 0.65 ``|s|`` when rho is outside [1/5, 5], grow to 1.15 ``|s|`` when
    within 3.5 % of 1); every step is taken, as in Sella (a saddle search
    has no merit function to reject a step by).

    **Curvature is reused, not recomputed.**  After every step ``B`` absorbs
    the secant pair ``(s, g+ - g)`` by the TS-BFGS update (Anglada & Bofill
    1998), which stays symmetric and indefinite (BFGS would force positive
    definiteness, wrong at a saddle point).  Eigensolves are Davidson's
    method with ``B`` as preconditioner (Olsen's correction), started from
    ``B``'s lowest modes and run until the `order` lowest Ritz pairs, and
    every pair with a negative Ritz value, meet `eig_tol` (the negative ones
    too, as in Sella: the step needs the whole negative subspace right to
    partition it); every product ``H v`` they make is an exact
    curvature pair and goes into ``B`` through the same multi-secant update,
    so that ``B`` reproduces the measured curvature on the whole subspace
    explored.  The first eigensolve (no model yet) is Lanczos from the
    gradient; the model then starts as ``lambda0 I`` (lambda0 the geometric
    mean of the absolute Ritz values, as in Sella) plus the measured pairs.  Later eigensolves run only when
    the model itself no longer has `order` negative eigenvalues among its
    lowest ones, and not within `diag_interval` steps of the last one: this
    is Sella's scheme (Hermes et al. 2022), and why a saddle search costs
    little more than a minimization.

    **The order check** (``final_check``), made where the gradient test
    holds: 'davidson' runs model-preconditioned Davidson from the model's
    lowest modes at that point.  Ritz values bound the eigenvalues from above
    (Cauchy interlacing), so `order` Ritz values below ``-zero_tol`` times the
    curvature scale *prove* at least `order` negative eigenvalues of the
    (finite-difference) Hessian, whatever their residuals: the eigensolve
    stops there (typically after `order` products, as the model is already
    close), or when the `order` lowest pairs meet `eig_tol`.  Its basis
    starts from the secant pairs of the last steps when their segments lie
    within `hvp_step` of the point: such a pair is a backward-difference
    product at the point, as accurate as a new one, and near convergence the
    steps are often that short, so the check may cost no gradient call at
    all.  That the next eigenvalue is not negative is the model's word -- a
    lower eigenvalue would have to lie in directions that neither the steps
    nor any product has seen.  For order 0 the lowest pair must meet
    `eig_tol` (an upper bound cannot prove positivity).  'lanczos'
    instead runs `curvopt.eigen.eigenmodes` with its probabilistic check for
    missed eigenvalues (some 10-25 more products; the whole Hessian when
    ``order + 1`` reaches the dimension).  'model' takes the model's
    eigenvalues as they are (no products; least trustworthy).

    **Cost.**  One gradient call per step, plus the products of the
    eigensolves (one gradient call each with '2-point').  Memory: the dense
    model, 8 n^2 bytes, and O(n^3) work per step for its eigendecomposition,
    fine up to a few thousand variables.

    References
    ----------
    .. [1] C. J. Cerjan and W. H. Miller, "On finding transition states",
       J. Chem. Phys. 75, 2800 (1981).
    .. [2] A. Banerjee, N. Adams, J. Simons and R. Shepard, "Search for
       stationary points on surfaces", J. Phys. Chem. 89, 52 (1985).
    .. [3] J. Baker, "An algorithm for the location of transition states",
       J. Comput. Chem. 7, 385 (1986).
    .. [4] J. M. Bofill, "Updated Hessian matrix and the restricted step
       method for locating transition structures", J. Comput. Chem. 15, 1
       (1994).
    .. [5] J. M. Anglada and J. M. Bofill, "How good is a
       Broyden-Fletcher-Goldfarb-Shanno-like update Hessian formula to
       locate transition structures? Specific reformulation of
       Broyden-Fletcher-Goldfarb-Shanno for optimizing saddle points",
       J. Comput. Chem. 19, 349-362 (1998): the TS-BFGS update.
    .. [6] E. D. Hermes, K. Sargsyan, H. N. Najm and J. Zádor, "Sella, an
       open-source automation-friendly molecular saddle point optimizer",
       J. Chem. Theory Comput. 18, 6974 (2022); "Accelerated saddle point
       refinement through full exploitation of partial Hessian
       diagonalization", J. Chem. Theory Comput. 15, 6536 (2019).
    .. [7] G. Henkelman and H. Jónsson, "A dimer method for finding saddle
       points on high dimensional potential surfaces using only first
       derivatives", J. Chem. Phys. 111, 7010 (1999).
    .. [8] J. Olsen, P. Jørgensen and J. Simons, "Passing the one-billion
       limit in full configuration-interaction (FCI) calculations",
       Chem. Phys. Lett. 169, 463 (1990).
    .. [9] T. Helgaker, "Transition-state optimizations by trust-region
       image minimization", Chem. Phys. Lett. 182, 503 (1991).
    .. [10] D. J. Wales, *Energy Landscapes*, Cambridge University Press
       (2003), ch. 6.

    Examples
    --------
    The Müller-Brown potential's saddle point between its two lowest minima:

    >>> import numpy as np
    >>> from curvopt.saddle import find_saddle
    >>> A = np.array([-200.0, -100.0, -170.0, 15.0]); a = np.array([-1.0, -1.0, -6.5, 0.7])
    >>> b = np.array([0.0, 0.0, 11.0, 0.6]); c = np.array([-10.0, -10.0, -6.5, 0.7])
    >>> X0 = np.array([1.0, 0.0, -0.5, -1.0]); Y0 = np.array([0.0, 0.5, 1.5, 1.0])
    >>> def mb(p):
    ...     dx, dy = p[0] - X0, p[1] - Y0
    ...     e = A * np.exp(a * dx**2 + b * dx * dy + c * dy**2)
    ...     return e.sum(), np.array([(e * (2 * a * dx + b * dy)).sum(), (e * (b * dx + 2 * c * dy)).sum()])
    >>> res = find_saddle(mb, [-0.70, 0.60], jac=True)
    >>> res.success, res.order_found, np.round(res.x, 4)
    (True, 1, array([-0.822 ,  0.6243]))
    """
    x0 = as_finite_vector(x0, "x0")
    n = x0.size
    if not isinstance(args, tuple):
        args = (args,)
    opts = _checked_options(options, n)
    deflation = _Deflation(opts["deflate"], n)
    D0 = deflation.at(x0)
    n_free = n - (0 if D0 is None else D0.shape[1])
    order = _check_order(order, n, n_free)
    oracle = make_oracle(fun, x0, jac, args, opts["max_grad_calls"], stacklevel=3)
    f0, g0 = check_initial_point(oracle, x0)
    backend = make_backend(oracle, fun, args, x0, hessp=hessp)
    run = Run(oracle, backend, x0, f0, g0, callback=opts["callback"], disp=opts["disp"],
              return_all=opts["return_all"], columns=_COLUMNS)
    search = _Search(n, order, opts, deflation, backend)

    printing = run.progress.enabled

    def body(r):
        try:
            return search.body(r)
        finally:
            run.progress.enabled = False  # the summary is printed below, with this function's message

    result = execute(body, run)
    search.finish(run, result.status)
    for key in ("order_found", "eigenvalues", "eigenvectors", "eigen_residuals", "eigen_source"):
        result[key] = run.extra.get(key)
    result["n_eigensolves"] = search.n_eigensolves
    result["trust_radius"] = search.radius
    result.pop("wrong_order", None)
    if result.status == Status.SADDLE_POINT:
        result["message"] = _WRONG_ORDER.format(found=result.order_found, order=order, kicks=search.kicks) \
            if result.order_found != order else \
            "The gradient test holds with the right number of negative eigenvalues, but the eigensolver did not " \
            "converge the lowest modes within its budget: the order is not certain."
    elif result.status == Status.SUCCESS:
        result["message"] = f"Converged to a stationary point of order {order} (saddle point)." if order else \
            "Converged to a minimum (order 0)."
    run.progress.enabled = printing
    run.progress.summary(result)
    return result
