"""Verified minima: is a stationary point a minimum, and if not, which way is down?

When a solver's gradient test holds, a few Lanczos steps on Hessian-vector
products estimate the smallest eigenvalue of the Hessian.  Ritz values bound
eigenvalues from above, so a negative Ritz value proves negative curvature
(a saddle point, or a maximum) and its Ritz vector is a direction of descent
to second order; a converged non-negative one, within its residual, says the
second-order necessary condition holds.  The solvers then step along the
negative-curvature direction instead of reporting success (saddle escape).

The check costs products (the whole Hessian for n <= 40, otherwise at most
40 Lanczos steps), so ``verify='auto'`` runs it only where it is cheap or
needed: when products cost no gradient calls (autograd, the user's `hessp` or
`hess`), when its budget of products is at most a tenth of the gradient
calls the run has already spent, when the starting point itself is
stationary (a run that would otherwise return x0 untouched), or after the
run has already left a saddle.

Over a box (``method='trust-bounds'``) the check covers the face of the free
variables, those strictly between their bounds: the Hessian restricted to
them must be positive semidefinite at a minimum where the active bounds hold
with nonzero multipliers.  An active bound whose gradient component is zero
(a degenerate one) is not examined.  Where no variable is free the face is a
vertex: nothing to check, ``min_curvature`` is +inf.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._result import Status

__all__ = ["CurvatureCheck", "Verifier"]

# Negative curvature counts when the Ritz value is below -_RELATIVE * ||H||: far
# above the error of finite-difference products (about sqrt(eps) relative).
_RELATIVE = 1e-6
# Lanczos tolerance of the check (relative to ||H||): enough to tell the sign.
_LANCZOS_TOL = 1e-3
_MAX_PRODUCTS = 40
_MAX_ESCAPES = 20


@dataclass
class CurvatureCheck:
    """The smallest Hessian eigenvalue estimated at a point.

    Attributes
    ----------
    min_curvature : float
        The Ritz value (an upper bound on the smallest eigenvalue).
    direction : ndarray
        Its unit Ritz vector.
    is_local_minimum : bool or None
        True when the Hessian is positive semidefinite within tolerance,
        False when negative curvature is proven, None when the estimate did
        not converge within its budget.
    n_products : int
    """

    min_curvature: float
    direction: np.ndarray
    is_local_minimum: bool | None
    n_products: int


class _BackendOperator(LinearOperator):
    """The Hessian, or with `free` its restriction to those coordinates."""

    def __init__(self, backend, n, free=None):
        k = n if free is None else free.size
        super().__init__(dtype=np.float64, shape=(k, k))
        self._backend = backend
        self._n = n
        self._free = free

    def _matvec(self, v):
        v = np.ascontiguousarray(np.asarray(v, dtype=float).reshape(-1))
        if self._free is None:
            return self._backend(v)
        return self._backend(_embed(self._n, self._free, v))[self._free]

    def _matmat(self, V):
        if self._free is None:
            return self._backend.matmat(V)
        return self._backend.matmat(_embed(self._n, self._free, V))[self._free]

    def _adjoint(self):
        return self


def _embed(n, free, values):
    """`values` (rows indexed by `free`) as rows of an n-row array, zero elsewhere."""
    out = np.zeros((n,) + np.shape(values)[1:])
    out[free] = values
    return out


def check_curvature(backend, x, gradient, max_products=_MAX_PRODUCTS, rng=None, free=None,
                    deflate=None) -> CurvatureCheck:
    """Estimate the least Hessian eigenvalue at `x` with at most about `max_products` products.

    With `free` (an index array), the least eigenvalue of the Hessian restricted to those
    coordinates; the direction is then zero elsewhere.  With `deflate` (an (n, m) array with
    orthonormal columns; not together with `free`), the least eigenvalue on the orthogonal
    complement of its span: zero modes of a symmetry (a molecule's rigid-body translations and
    rotations) are then not mistaken for the flat directions of a degenerate minimum.
    """
    n = x.size
    if free is not None and free.size == n:
        free = None
    if free is not None and free.size == 0:
        return CurvatureCheck(np.inf, np.zeros(n), True, 0)  # a vertex of the box: nothing to check
    m = 0 if deflate is None else deflate.shape[1]
    k = (n if free is None else free.size) - m
    backend.linearize(x, gradient)
    before = backend.n_products
    if k <= max_products:
        # Small problems: the Hessian compressed to an orthonormal basis C of the space checked
        # (the free coordinates, or the complement of `deflate`) costs no more products than the
        # Lanczos budget and gives the exact answer; symmetrized, as a finite-difference one is
        # only nearly symmetric.  Selections and identities multiply exactly.
        if deflate is not None:
            C = np.linalg.qr(np.column_stack([deflate, np.eye(n)]))[0][:, m:n]
        else:
            C = np.eye(n) if free is None else np.eye(n)[:, free]
        HC = backend.matmat(C)
        if not np.isfinite(HC).all():
            return _no_verdict(n, backend.n_products - before)
        values, vectors = np.linalg.eigh(0.5 * (C.T @ HC + HC.T @ C))
        theta, threshold = float(values[0]), _RELATIVE * float(np.max(np.abs(values)))
        return CurvatureCheck(theta, C @ vectors[:, 0], theta >= -threshold, backend.n_products - before)
    result = _eigenmodes_or_none(_BackendOperator(backend, n, free), k=1, which="smallest", tol=_LANCZOS_TOL,
                                 maxiter=1, ncv=min(k, max(max_products, 2)), deflate=deflate,
                                 check_degeneracy=False, rng=np.random.default_rng(0) if rng is None else rng)
    if result is None:
        return _no_verdict(n, backend.n_products - before)
    theta = float(result.eigenvalues[0])
    residual = float(result.residual_norms[0])
    threshold = _RELATIVE * max(float(result.scale), abs(theta))
    if theta < -threshold:
        verdict = False  # a Ritz value bounds the least eigenvalue from above: proven
    elif result.converged and theta - residual >= -threshold:
        verdict = True
    else:
        verdict = None
    vector = result.eigenvectors[:, 0]
    direction = vector.copy() if free is None else _embed(n, free, vector)
    return CurvatureCheck(theta, direction, verdict, backend.n_products - before)


def _no_verdict(n, n_products) -> CurvatureCheck:
    """The check where the products were not finite (the gradient failed next to x): no verdict."""
    return CurvatureCheck(np.nan, np.zeros(n), None, n_products)


def _eigenmodes_or_none(op, **kwargs):
    """`curvopt.eigenmodes` on the check's operator, None when non-finite products spoiled it."""
    from .eigen import eigenmodes

    with np.errstate(invalid="ignore", over="ignore"):
        try:
            result = eigenmodes(op, **kwargs)
        except (np.linalg.LinAlgError, FloatingPointError):
            return None
    if not (np.isfinite(result.eigenvalues).all() and np.isfinite(result.residual_norms).all()):
        return None
    return result


def _deflation_basis(deflate, x):
    """The orthonormal basis of the option `deflate` at `x` (None when not given)."""
    if deflate is None:
        return None
    D = deflate(x.copy()) if callable(deflate) else deflate
    D = np.asarray(D, dtype=float)
    if D.ndim == 1:
        D = D[:, None]
    if D.ndim != 2 or D.shape[0] != x.size or D.shape[1] >= x.size or not np.all(np.isfinite(D)):
        raise ValueError(f"option `deflate` must give a finite ({x.size}, m) array with m < {x.size}; "
                         f"got shape {D.shape}")
    Q, R = np.linalg.qr(D)
    keep = np.abs(np.diag(R)) > 1e-10 * max(1.0, float(np.max(np.abs(np.diag(R)))))
    return Q[:, keep]


class Verifier:
    """Second-order check and saddle escape for one run.

    Parameters
    ----------
    mode : {'auto', True, False}
        Whether to check at a point where the gradient test holds ('auto':
        where cheap, see the module docstring).
    n : int
        Dimension.
    auto_budget : float
        Under 'auto', the check also runs when its budget of products is at
        most this fraction of the gradient calls already spent (0: only where
        products are exact, at a stationary start, or after an escape).
    deflate : callable or array_like, optional
        Directions left out of the check: an (n, m) array, or ``deflate(x)``
        returning one (e.g. `curvopt.chem.rigid_body_modes` of a molecule's
        coordinates: translations and rotations are exact zero modes).
    """

    def __init__(self, mode, n, auto_budget=0.1, deflate=None):
        if mode not in ("auto", True, False):
            raise ValueError(f"option `verify` must be 'auto', True or False; got {mode!r}")
        if deflate is not None and not callable(deflate):
            deflate = _deflation_basis(deflate, np.zeros(n))  # checks the shape once, up front
        self.deflate = deflate
        self.mode = mode
        self.max_products = min(n, _MAX_PRODUCTS)
        self.auto_budget = auto_budget
        self.escapes = 0
        self.last = None

    def wanted(self, run) -> bool:
        if self.mode == "auto":
            cheap = run.backend.exact or self.max_products <= self.auto_budget * run.oracle.njev
            # a stationary start, or a run that has met a saddle before, needs the check
            return cheap or run.nit == 0 or self.escapes > 0
        return self.mode

    def check(self, run, free=None) -> CurvatureCheck | None:
        """Check the current point (None when not wanted); records the result keys.

        `free`: the coordinates to check (see `check_curvature`), None for all.
        """
        if not self.wanted(run):
            run.extra.pop("min_curvature", None)  # keys describe the returned point, or are absent
            run.extra.pop("is_local_minimum", None)
            return None
        if self.last is not None and self.last[0] is run.x:
            return self.last[1]
        D = _deflation_basis(self.deflate, run.x) if free is None else None
        result = check_curvature(run.backend, run.x, run.g, self.max_products, free=free, deflate=D)
        self.last = (run.x, result)
        run.extra["min_curvature"] = result.min_curvature
        run.extra["is_local_minimum"] = result.is_local_minimum
        return result

    def escape_direction(self, run, check):
        """Unit direction of negative curvature pointing downhill, or None when escapes are used up."""
        if check is None or check.is_local_minimum is not False or self.escapes >= _MAX_ESCAPES:
            return None
        self.escapes += 1
        v = check.direction
        return -v if float(np.dot(run.g, v)) > 0 else v

    def at_stationary_point(self, run, free=None):
        """What a solver does where its gradient test holds.

        Returns the `Status` to stop with (success, or a saddle that could not
        be left), or ``(direction, curvature)``: a unit downhill direction of
        negative curvature and the curvature along it, to step off a saddle by.
        """
        check = self.check(run, free)
        direction = self.escape_direction(run, check)
        if direction is not None:
            return direction, check.min_curvature
        saddle = check is not None and check.is_local_minimum is False
        return Status.SADDLE_POINT if saddle else Status.SUCCESS
