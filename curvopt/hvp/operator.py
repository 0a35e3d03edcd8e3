"""The Hessian at a point as a scipy LinearOperator."""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .._oracle import Oracle, OracleError, autograd_jvp_works, autograd_traceable
from .._validation import as_finite_vector
from .backends import AutogradHVP, FiniteDifferenceHVP, UserHessp

__all__ = ["HessianOperator"]


class HessianOperator(LinearOperator):
    """The Hessian of ``f`` at `x`, applied through Hessian-vector products.

    A symmetric `scipy.sparse.linalg.LinearOperator`: it plugs into
    `scipy.sparse.linalg.cg`, `minres`, `eigsh` and `curvopt.eigenmodes` as
    it is, and counts the products and the gradient calls they cost.

    Parameters
    ----------
    x : array_like, shape (n,)
        The point.
    jac : callable, optional
        Gradient ``jac(x, *args) -> (n,)``.
    fun : callable, optional
        Objective ``fun(x, *args)``, needed for ``method='autograd'`` unless
        `jac` itself is written with autograd.
    hessp : callable, optional
        The user's product ``hessp(x, p, *args)``; `method` is then ignored.
    args : tuple
        Extra arguments of `fun`, `jac` and `hessp`.
    method : {None, '2-point', '3-point', 'autograd'}
        How products are made.  None: `hessp` when given, else exact autograd
        products when `fun` is given and autograd can trace it, else
        '3-point' central differences of `jac` (two gradient calls per
        product, error O(h^2): the accurate choice for curvature analysis;
        '2-point' halves the cost at O(h) error).
    eps : float, optional
        Relative finite-difference factor (see `curvopt.hvp._kernels`).
    workers : None, int or map-like callable, optional
        Where the products of a block (`matmat`, e.g. block Lanczos in
        `curvopt.eigenmodes`) run: their ``k`` ('2-point') or ``2 k``
        ('3-point') gradient calls, or ``k`` calls of `hessp` or of autograd
        products, go out together.  An int starts a local process pool at the
        first block, shut down by `close` (or a ``with`` block, or garbage
        collection); a map-like callable (``executor.map``) is used as is.
        `jac`, `fun` or `hessp` must then be picklable.  Single products
        (`matvec`) run here.  See `curvopt._workers`.

    Attributes
    ----------
    n_products : int
        Hessian-vector products applied so far (a `matmat` with k columns is k).
    n_grad_calls : int
        Gradient calls spent by those products.
    method : str
        The product method in use.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import rosen_der
    >>> from curvopt import HessianOperator
    >>> H = HessianOperator(np.ones(3), jac=rosen_der)
    >>> np.round(H @ np.array([1.0, 0.0, 0.0]), 3)
    array([ 802., -400.,    0.])
    """

    def __init__(self, x, *, jac=None, fun=None, hessp=None, args=(), method=None, eps=None, workers=None):
        x = as_finite_vector(x, "x")
        n = x.size
        args = tuple(args)
        backend, oracle = _choose_backend(x, jac, fun, hessp, args, method, eps)
        super().__init__(dtype=np.float64, shape=(n, n))
        self.x = x
        self._backend = backend
        self._oracle = oracle
        self.method = backend.name
        backend.linearize(x)
        self._workers = None  # the Workers in use
        self._owned_workers = None  # the one this operator made from an int, to shut down
        if workers is not None:
            self.use_workers(workers)

    def use_workers(self, workers) -> None:
        """Send the products of later blocks to `workers` (None: back to this process).

        A pool this operator started for an earlier int `workers` is shut down first.
        """
        from .._workers import attach, detach, resolve_workers

        if self._owned_workers is not None:
            self._owned_workers.close()
        detach(self._oracle, self._backend)
        self._workers = self._owned_workers = None
        if workers is None:
            return
        mapper = resolve_workers(workers)
        if mapper is not workers:
            self._owned_workers = mapper
        if mapper.parallel:
            attach(self._oracle, self._backend, mapper)
            self._workers = mapper

    def close(self):
        """Shut down the process pool of an int `workers` (later blocks run here)."""
        self.use_workers(None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def n_products(self) -> int:
        return self._backend.n_products

    @property
    def n_grad_calls(self) -> int:
        return 0 if self._oracle is None else self._oracle.njev

    def _matvec(self, v):
        v = np.ascontiguousarray(np.asarray(v, dtype=float).reshape(-1))
        try:
            return self._backend(v)
        except OracleError as err:
            raise err.__cause__  # the user's own exception, with its own traceback

    def _matmat(self, V):
        try:
            return self._backend.matmat(np.asarray(V, dtype=float))
        except OracleError as err:
            raise err.__cause__

    def _rmatvec(self, v):
        return self._matvec(v)

    def _adjoint(self):
        return self

    def _transpose(self):
        return self

    def __repr__(self):
        n = self.shape[0]
        return (
            f"<HessianOperator n={n} method={self.method!r} products={self.n_products} "
            f"grad_calls={self.n_grad_calls}>"
        )


def _choose_backend(x, jac, fun, hessp, args, method, eps):
    if hessp is not None:
        if not callable(hessp):
            raise TypeError(f"`hessp` must be callable; got {type(hessp).__name__}")
        return UserHessp(hessp, args), None
    if method is not None and method not in ("2-point", "3-point", "autograd"):
        raise ValueError(f"`method` must be None, '2-point', '3-point' or 'autograd'; got {method!r}")
    if jac is not None and not callable(jac):
        raise TypeError(f"`jac` must be callable; got {type(jac).__name__}")
    if fun is not None and not callable(fun):
        raise TypeError(f"`fun` must be callable; got {type(fun).__name__}")
    if jac is None and fun is None:
        raise ValueError("HessianOperator needs `jac`, `fun` (autograd) or `hessp`")
    fun_traceable = fun is not None and (method in (None, "autograd")) and autograd_traceable(fun, x, args)
    if method is None:
        method = "autograd" if fun_traceable else "3-point"
    if method == "autograd":
        if fun_traceable:
            return AutogradHVP(fun, args), None
        if jac is not None and autograd_jvp_works(jac, x, args):
            return AutogradHVP(jac, args, is_gradient=True), None
        raise ValueError("method='autograd' needs `fun` (or `jac`) written with autograd.numpy")
    if jac is None:
        if fun is not None and autograd_traceable(fun, x, args):
            oracle = Oracle(fun, None, args, "autograd")
        else:
            raise ValueError(f"method={method!r} needs `jac`, the gradient callable")
    else:
        oracle = Oracle(fun, jac, args, "callable")
    return FiniteDifferenceHVP(oracle.gradient, method, eps, gradients=oracle.gradients), oracle
