"""Standard errors of estimates without forming the Hessian by hand.

After a maximum-likelihood fit with `curvopt.minimize` (or any minimizer),
the covariance of the estimates comes from the curvature of the negative
log-likelihood at the optimum, and that curvature is available from the
gradient alone, through `curvopt.HessianOperator`:

* `covariance` with ``kind='hessian'``: the inverse Hessian of the negative
  log-likelihood (the classical MLE covariance, the inverse observed
  information);
* ``kind='sandwich'`` (alias ``'robust'``): White's heteroskedasticity- and
  misspecification-robust form ``H^-1 (S'S) H^-1`` from per-observation
  scores ``S`` (statsmodels' ``cov_type='HC0'``);
* `standard_errors`: the square roots of the diagonal;
* `hess_inv`: a `LinearOperator` applying the inverse Hessian by conjugate
  gradients on Hessian-vector products, like the ``hess_inv`` that scipy's
  BFGS returns, but exact (to the CG tolerance) rather than a quasi-Newton
  approximation.

How it is computed.  Estimation problems have few parameters (n up to a few
hundred), so `covariance` forms the dense Hessian from n products (2 n
gradient calls with central differences, none with exact products) and
decomposes it with `numpy.linalg.eigh`: the eigenvalues check positive
definiteness exactly (to the accuracy of the products), and the inverse comes
from the same decomposition.  Beyond ``max_dense`` parameters it solves n
CG systems instead (about n products each) and checks definiteness through
the curvature CG meets.  Products are central differences of `jac` by default
(error O(h^2), about 1e-10 relative), or exact autograd products when `fun`
can be traced by autograd, or the user's `hessp`.

Scaling with the number of observations.  The objective is a negative
log-likelihood, either the sum over observations (the default,
``n_obs=None``) or the mean (pass ``n_obs``).  With the mean, the Hessian of
the log-likelihood is ``n_obs`` times the Hessian of the objective, and the
covariances are divided accordingly; per-observation scores are always the
gradients of the individual log-likelihood terms (not divided by
``n_obs``).

Warnings, not silent answers.  A Hessian at the optimum that is not
positive definite (a saddle point, or parameters that are not identified,
such as collinear regressors) or nearly singular (condition number above
``1 / rcond``) raises a `CovarianceWarning` that says which, with the
smallest eigenvalues; so does an optimum on a bound (``result.active_mask``),
where the usual asymptotics do not apply.

References
----------
H. White, "A heteroskedasticity-consistent covariance matrix estimator and a
direct test for heteroskedasticity", Econometrica 48(4), 817-838, 1980.
H. White, "Maximum likelihood estimation of misspecified models",
Econometrica 50(1), 1-25, 1982.
W. H. Greene, *Econometric Analysis*, 8th ed., Pearson, 2018, Sec. 14.4
(the asymptotic covariance of the MLE).
J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer,
2006, Algorithm 5.2 (conjugate gradients).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._validation import as_finite_vector
from .hvp import HessianOperator

__all__ = [
    "CovarianceWarning",
    "covariance",
    "standard_errors",
    "hess_inv",
    "InverseHessian",
]

_KINDS = {"hessian": "hessian", "sandwich": "sandwich", "robust": "sandwich"}


class CovarianceWarning(RuntimeWarning):
    """The covariance is not trustworthy: the Hessian at the optimum is not
    positive definite or nearly singular, or the optimum is on a bound."""


def _point(result):
    """x from an OptimizeResult (anything with ``.x``) or an array."""
    x = getattr(result, "x", result)
    return as_finite_vector(x, "result.x")


def _check_bounds(result, stacklevel):
    mask = getattr(result, "active_mask", None)
    if mask is None:
        return
    mask = np.asarray(mask)
    if mask.any():
        warnings.warn(
            f"the estimate is on a bound in parameters {np.flatnonzero(mask)[:10].tolist()}: the "
            "asymptotic normal covariance does not hold there (the covariance below treats the bound "
            "as absent)",
            CovarianceWarning,
            stacklevel=stacklevel + 1,
        )


def _hessian(x, fun, jac, hessp, args, method, eps, bounds):
    if fun is None and jac is None and hessp is None:
        raise ValueError("give the gradient `jac` (or `fun` written with autograd, or `hessp`): the "
                         "Hessian-vector products come from it")
    H = HessianOperator(x, jac=jac, fun=fun, hessp=hessp, args=args, method=method, eps=eps)
    if bounds is not None:
        from .hvp.bounded import bounded_backend
        from .trust_region.bounded import as_bounds

        lower, upper = as_bounds(bounds, x.size)
        if np.any(x < lower) or np.any(x > upper):
            raise ValueError("`result.x` is outside `bounds`")
        # finite-difference products then take one-sided steps at the bounds (exact ones are unchanged)
        H._backend = bounded_backend(H._backend, lower, upper)
        H._backend.linearize(x)
    return H


def _scores_matrix(scores, x, args, n):
    if scores is None:
        raise ValueError("kind='sandwich' needs `scores`: the per-observation gradients of the "
                         "log-likelihood, an (n_obs, n) array or a callable scores(x, *args)")
    S = scores(x, *args) if callable(scores) else scores
    S = np.asarray(S, dtype=float)
    if S.ndim != 2 or S.shape[1] != n:
        raise ValueError(f"`scores` must be an (n_obs, {n}) array, one row per observation; got shape {S.shape}")
    if not np.all(np.isfinite(S)):
        raise ValueError("`scores` contains NaN or inf")
    return S


def _dense_hessian(H):
    n = H.shape[0]
    M = np.asarray(H.matmat(np.eye(n)), dtype=float)
    if not np.all(np.isfinite(M)):
        raise ValueError("the Hessian-vector products at x are not finite (NaN or inf)")
    return 0.5 * (M + M.T)  # finite-difference products are symmetric only to their error


def _check_definite(eigenvalues, rcond, stacklevel):
    """Warn when the Hessian (of the objective) is not positive definite or nearly singular."""
    lam_max = float(np.max(np.abs(eigenvalues)))
    lam_min = float(eigenvalues[0])
    shown = ", ".join(f"{v:.3g}" for v in eigenvalues[: min(3, eigenvalues.size)])
    if lam_max == 0.0 or lam_min <= 0.0:
        warnings.warn(
            f"the Hessian at the estimate is not positive definite (smallest eigenvalues {shown}; "
            f"largest {lam_max:.3g}): the point is not a strict local minimum or some parameters are "
            "not identified (e.g. collinear regressors); the covariance is not valid",
            CovarianceWarning,
            stacklevel=stacklevel + 1,
        )
        return False
    if lam_min < rcond * lam_max:
        warnings.warn(
            f"the Hessian at the estimate is nearly singular (condition number {lam_max / lam_min:.3g} "
            f"> 1/rcond = {1 / rcond:.3g}; smallest eigenvalues {shown}): some parameters are barely "
            "identified (e.g. nearly collinear regressors); the standard errors are unreliable",
            CovarianceWarning,
            stacklevel=stacklevel + 1,
        )
        return False
    return True


def covariance(result, *, kind="hessian", scores=None, n_obs=None, fun=None, jac=None, args=(), hessp=None,
               method=None, eps=None, bounds=None, rcond=1e-8, max_dense=500):
    """Covariance of maximum-likelihood estimates from Hessian-vector products.

    Parameters
    ----------
    result : OptimizeResult or array_like
        The fit (its ``x``; ``active_mask`` is looked at when present) or the
        estimate itself.
    kind : {'hessian', 'sandwich', 'robust'}
        ``'hessian'``: ``H^-1``, the inverse of the Hessian of the negative
        log-likelihood.  ``'sandwich'`` (or ``'robust'``): White's
        ``H^-1 (S'S) H^-1`` (statsmodels' ``cov_type='HC0'``).
    scores : ndarray of shape (n_obs, n) or callable, optional
        Per-observation scores, the gradients of the individual
        log-likelihood terms at x (signs do not matter), or
        ``scores(x, *args)`` returning them; needed for ``'sandwich'``.
    n_obs : int, optional
        Give it when the objective is the *mean* negative log-likelihood over
        ``n_obs`` observations: the covariance is then divided by ``n_obs``
        (``'hessian'``) or ``n_obs**2`` (``'sandwich'``, whose scores stay
        per observation).  Leave it None when the objective is the sum.
    fun, jac, hessp, args, method, eps :
        Where Hessian-vector products at x come from, as in
        `curvopt.HessianOperator`: central differences of `jac` by default
        (two gradient calls per product), exact autograd products when
        `fun` is written with autograd, or the user's `hessp`.
    bounds : `scipy.optimize.Bounds` or sequence of (low, high), optional
        The box of the fit: finite-difference products then never evaluate
        the gradient outside it (one-sided differences at active bounds, see
        `curvopt.hvp.bounded`), for models undefined beyond their bounds.
    rcond : float
        A condition number above ``1 / rcond`` is reported as nearly
        singular (default 1e-8: well above the ~1e-10 relative error of
        central-difference products).
    max_dense : int
        Up to this many parameters the dense Hessian is formed from n
        products and decomposed with `numpy.linalg.eigh`; above it, n CG
        solves (see `hess_inv`).

    Returns
    -------
    ndarray of shape (n, n)
        The covariance matrix.  When the Hessian is not positive definite it
        is still the inverse (a `CovarianceWarning` says it is not valid);
        negative variances then show as NaN standard errors.

    Warns
    -----
    CovarianceWarning
        The Hessian is not positive definite or nearly singular, or the
        estimate is on a bound.

    References
    ----------
    H. White, "A heteroskedasticity-consistent covariance matrix estimator
    and a direct test for heteroskedasticity", Econometrica 48(4), 817-838,
    1980.

    Examples
    --------
    A least-squares fit as maximum likelihood with unit variance: the
    covariance is ``inv(A'A)``.

    >>> import numpy as np
    >>> from curvopt.stats import covariance
    >>> A = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]); y = np.array([0.1, 0.9, 2.1])
    >>> jac = lambda b: A.T @ (A @ b - y)
    >>> x = np.linalg.lstsq(A, y, rcond=None)[0]
    >>> bool(np.allclose(covariance(x, jac=jac), np.linalg.inv(A.T @ A)))
    True
    """
    kind_name = _KINDS.get(str(kind).lower()) if isinstance(kind, str) else None
    if kind_name is None:
        raise ValueError(f"`kind` must be 'hessian', 'sandwich' or 'robust'; got {kind!r}")
    if n_obs is not None and (int(n_obs) != n_obs or n_obs < 1):
        raise ValueError(f"`n_obs` must be a positive integer or None; got {n_obs!r}")
    if not 0 < rcond < 1:
        raise ValueError(f"`rcond` must be in (0, 1); got {rcond!r}")
    x = _point(result)
    n = x.size
    args = tuple(args) if isinstance(args, tuple) else (args,)
    _check_bounds(result, stacklevel=2)
    S = _scores_matrix(scores, x, args, n) if kind_name == "sandwich" else None
    H = _hessian(x, fun, jac, hessp, args, method, eps, bounds)
    if n <= max_dense:
        lam, V = np.linalg.eigh(_dense_hessian(H))
        _check_definite(lam, rcond, stacklevel=2)
        with np.errstate(divide="ignore"):
            inverse = (V / lam) @ V.T
    else:
        inverse = _inverse_by_cg(H, rcond, stacklevel=2)
    scale = 1.0 if n_obs is None else float(n_obs)
    if kind_name == "hessian":
        return inverse / scale
    meat = S.T @ S
    return inverse @ meat @ inverse / (scale * scale)


def standard_errors(result, **kwargs):
    """Standard errors ``sqrt(diag(covariance(result, **kwargs)))``.

    The keyword arguments are those of `covariance`.  A negative variance
    (possible only after a `CovarianceWarning`) gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from curvopt.stats import standard_errors
    >>> A = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]); y = np.array([0.1, 0.9, 2.1])
    >>> x = np.linalg.lstsq(A, y, rcond=None)[0]
    >>> np.round(standard_errors(x, jac=lambda b: A.T @ (A @ b - y)), 4)
    array([0.9129, 0.7071])
    """
    variances = np.diag(covariance(result, **kwargs)).copy()
    out = np.full(variances.shape, np.nan)
    ok = variances >= 0
    out[ok] = np.sqrt(variances[ok])
    return out


class InverseHessian(LinearOperator):
    """The inverse Hessian at a point, applied by conjugate gradients on Hessian-vector products.

    Each product ``Hinv @ b`` solves ``H y = b`` by CG to the relative
    residual `tol` (at most `maxiter` products).  CG needs H positive
    definite: a direction of non-positive curvature met on the way raises a
    `CovarianceWarning` (the result is then CG's iterate at that point),
    and so does a solve that does not reach the tolerance.

    Attributes
    ----------
    hessian : HessianOperator
        The operator whose inverse this is (its counters say what the
        solves cost).
    n_solves : int
        Linear systems solved so far.
    """

    def __init__(self, hessian, *, tol=1e-10, maxiter=None):
        n = hessian.shape[0]
        super().__init__(dtype=np.float64, shape=(n, n))
        self.hessian = hessian
        self.tol = float(tol)
        self.maxiter = 10 * n if maxiter is None else int(maxiter)
        self.n_solves = 0
        self.min_curvature = math.inf  # smallest p'Hp / p'p that CG has met

    def _matvec(self, b):
        b = np.asarray(b, dtype=float).reshape(-1)
        self.n_solves += 1
        y, ok, curvature = _cg_solve(self.hessian, b, self.tol, self.maxiter)
        self.min_curvature = min(self.min_curvature, curvature)
        if ok == "negative":
            warnings.warn(
                f"conjugate gradients met non-positive curvature ({curvature:.3g}) in the Hessian: it is not "
                "positive definite at this point, and the inverse is not valid",
                CovarianceWarning,
                stacklevel=3,
            )
        elif ok == "maxiter":
            warnings.warn(
                f"conjugate gradients did not reach the tolerance {self.tol:g} in {self.maxiter} products: "
                "the Hessian is ill-conditioned (nearly singular?)",
                CovarianceWarning,
                stacklevel=3,
            )
        return y

    def _rmatvec(self, b):
        return self._matvec(b)

    def _adjoint(self):
        return self

    def todense(self):
        """The dense inverse Hessian, one CG solve per column (as scipy's
        ``LbfgsInvHessProduct.todense``)."""
        n = self.shape[0]
        inverse = np.column_stack([self @ e for e in np.eye(n)])
        return 0.5 * (inverse + inverse.T)


class _DeferredHessian(LinearOperator):
    """The Hessian at the end of a `minimize` run, made from the run's own
    gradient source at its first product (so that a result whose ``hess_inv``
    is never used costs nothing).

    Products are central differences of the gradient (two gradient calls
    each, error O(h^2)) unless the run had exact products (autograd, `hess`,
    `hessp`); with bounds they stay in the box (`curvopt.hvp.bounded`).  Its
    gradient calls are its own (``n_grad_calls``), not the run's ``njev``.
    """

    def __init__(self, x, make):
        n = x.size
        super().__init__(dtype=np.float64, shape=(n, n))
        self.x = x
        self._make = make
        self._backend = None
        self._oracle = None

    def _ready(self):
        if self._backend is None:
            self._backend, self._oracle = self._make()
            self._backend.linearize(self.x)
        return self._backend

    @property
    def n_products(self) -> int:
        return 0 if self._backend is None else self._backend.n_products

    @property
    def n_grad_calls(self) -> int:
        return 0 if self._oracle is None else self._oracle.njev

    def _matvec(self, v):
        from ._oracle import OracleError

        try:
            return self._ready()(np.ascontiguousarray(np.asarray(v, dtype=float).reshape(-1)))
        except OracleError as err:
            raise err.__cause__

    def _rmatvec(self, v):
        return self._matvec(v)

    def _adjoint(self):
        return self


def result_hess_inv(x, oracle, fun, args, hess, hessp, rel_step, bounds=None):
    """The ``hess_inv`` a curvopt `minimize` result carries: an `InverseHessian`
    at `x` whose products use a fresh copy of the run's gradient source."""
    from ._oracle import Oracle
    from .hvp._resolve import make_backend

    def make():
        fresh = Oracle(oracle._fun, oracle.jac_callable, oracle.args, oracle.jac_mode)
        if bounds is not None:
            from .trust_region.bounded import box_oracle

            fresh = box_oracle(fresh, *bounds)
        exact = callable(hess) or callable(hessp) or oracle.jac_mode == "autograd" or "autograd" in (hess, hessp)
        backend = make_backend(fresh, fun, args, x, hess, hessp if exact else "3-point", rel_step)
        if bounds is not None and not exact:
            from .hvp.bounded import bounded_backend

            backend = bounded_backend(backend, *bounds)
        return backend, fresh

    return InverseHessian(_DeferredHessian(np.array(x, dtype=float, copy=True), make))


def _cg_solve(H, b, tol, maxiter):
    """CG for H y = b from y = 0; returns (y, 'ok'|'negative'|'maxiter', least curvature met)."""
    y = np.zeros_like(b)
    bnorm = math.sqrt(float(np.dot(b, b)))
    if bnorm == 0.0:
        return y, "ok", math.inf
    r = b.copy()
    p = r.copy()
    rr = bnorm * bnorm
    least = math.inf
    for _ in range(maxiter):
        Hp = H @ p
        pHp = float(np.dot(p, Hp))
        curvature = pHp / float(np.dot(p, p))
        least = min(least, curvature)
        if not pHp > 0.0:
            return y, "negative", least
        alpha = rr / pHp
        y += alpha * p
        r -= alpha * Hp
        rr_next = float(np.dot(r, r))
        if math.sqrt(rr_next) <= tol * bnorm:
            return y, "ok", least
        p = r + (rr_next / rr) * p
        rr = rr_next
    return y, "maxiter", least


def _inverse_by_cg(H, rcond, stacklevel):
    n = H.shape[0]
    Hinv = InverseHessian(H)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CovarianceWarning)
        inverse = np.column_stack([Hinv @ e for e in np.eye(n)])
    if caught:
        warnings.warn(str(caught[0].message), CovarianceWarning, stacklevel=stacklevel + 1)
    return 0.5 * (inverse + inverse.T)


def hess_inv(result, *, fun=None, jac=None, args=(), hessp=None, method=None, eps=None, bounds=None, tol=1e-10,
             maxiter=None):
    """The inverse Hessian of the objective at ``result.x`` as a `LinearOperator`.

    Like the ``hess_inv`` of scipy's BFGS result, but each product is an
    actual solve by conjugate gradients on Hessian-vector products (at most
    `maxiter`, default ``10 n``, products per solve), not a quasi-Newton
    approximation; no matrix is formed.  Use it for large n, or when only a
    few entries of the inverse (``Hinv @ e_i``) are wanted.

    Parameters
    ----------
    result : OptimizeResult or array_like
        The fit or the point.
    fun, jac, hessp, args, method, eps, bounds :
        As in `covariance`.  The operator is the inverse Hessian of the
        objective itself (as BFGS's ``hess_inv``): no ``n_obs`` scaling.
    tol : float
        Relative residual of each CG solve.
    maxiter : int, optional
        Products per solve.

    Returns
    -------
    InverseHessian
        Applying it warns (`CovarianceWarning`) if CG meets non-positive
        curvature or does not converge.

    Examples
    --------
    >>> import numpy as np
    >>> from curvopt.stats import hess_inv
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> Hinv = hess_inv(np.zeros(2), jac=lambda x: A @ x)
    >>> bool(np.allclose(Hinv @ np.array([1.0, 0.0]), np.linalg.solve(A, [1.0, 0.0])))
    True
    """
    x = _point(result)
    args = tuple(args) if isinstance(args, tuple) else (args,)
    return InverseHessian(_hessian(x, fun, jac, hessp, args, method, eps, bounds), tol=tol, maxiter=maxiter)
