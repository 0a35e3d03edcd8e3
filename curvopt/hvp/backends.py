"""Sources of Hessian-vector products behind one small interface.

A backend is linearized at a point (`linearize`), then applies the Hessian
there to vectors (`__call__`, `matmat`).  It counts its products; the gradient
calls that finite differences cost are counted by the `Oracle` they go through.

=================  ==========================================  =============================
backend            product                                      cost per product
=================  ==========================================  =============================
``'2-point'``      (g(x + h p) - g(x)) / h                      1 gradient call (g(x) reused)
``'3-point'``      (g(x + h p) - g(x - h p)) / 2h               2 gradient calls
``'autograd'``     d/dt grad f(x + t p) at t=0, exact           ~2-4 times a gradient
                   (forward-over-reverse, Pearlmutter 1994)
user ``hessp``     ``hessp(x, p, *args)``                       the user's
user ``hess``      ``hess(x, *args) @ p``, one Hessian per      the user's
                   point
=================  ==========================================  =============================

References
----------
B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural
Computation 6(1), 147-160, 1994.
J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006,
Sec. 7.1 (Hessian-free Newton) and Sec. 8.1 (finite differences).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
from scipy.sparse.linalg import LinearOperator

from . import _kernels

__all__ = [
    "HVPBackend",
    "FiniteDifferenceHVP",
    "AutogradHVP",
    "UserHessp",
    "UserHess",
]


class HVPBackend:
    """Products with the Hessian at the point given to `linearize`.

    Attributes
    ----------
    n_products : int
        Products computed so far.
    n_evaluations : int
        What scipy reports as ``nhev``: products, or Hessian evaluations for a
        user `hess`.
    exact : bool
        Whether products are exact (up to round-off) rather than differences.
    """

    name = "abstract"
    exact = True

    def __init__(self):
        self.n_products = 0
        self.x = None

    @property
    def n_evaluations(self) -> int:
        return self.n_products

    @staticmethod
    def is_available() -> bool:
        return True

    def linearize(self, x, gradient=None):
        """Set the point; `gradient` is g(x) when the caller already has it."""
        self.x = x

    def __call__(self, p) -> np.ndarray:
        self.n_products += 1
        return self._product(p)

    # a `curvopt._workers.Workers` (set by `use_workers`) that runs the columns of `matmat` together
    workers = None

    def use_workers(self, workers) -> None:
        """Run the products of `matmat` on `workers` (None: in this process, one after another)."""
        if workers is not None and workers.needs_pickling:
            from .._workers import check_picklable

            check_picklable(self._column_task(), self._pickled_argument, workers)
        self.workers = workers

    _pickled_argument = "`hessp`"

    def matmat(self, P) -> np.ndarray:
        """Products with the columns of `P`: independent, so they may run together."""
        P = np.asarray(P, dtype=float)
        columns = [np.ascontiguousarray(P[:, j]) for j in range(P.shape[1])]
        if self.workers is not None and len(columns) > 1:
            self.n_products += len(columns)
            return np.column_stack(self.workers(self._column_task(), columns))
        return np.column_stack([self(p) for p in columns])

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("workers", None)  # a backend sent to a worker runs its products there, serially
        return state

    def _column_task(self):
        """A picklable ``task(p) -> H p`` for a worker; the products are counted here."""
        from .._workers import _Product

        return _Product(self)

    def _product(self, p):
        raise NotImplementedError


class FiniteDifferenceHVP(HVPBackend):
    """Differences of the gradient along p: forward ('2-point') or central ('3-point').

    Parameters
    ----------
    gradient : callable
        ``gradient(x) -> g``, a counted gradient (an `Oracle`'s `gradient`).
    scheme : {'2-point', '3-point'}
    rel_step : float, optional
        The relative factor in ``h = rel_step (1 + ||x||) / ||p||``; default
        sqrt(eps) for '2-point' and eps^(1/3) for '3-point' (see `_kernels`).
    gradients : callable, optional
        ``gradients(points) -> list of g`` (an `Oracle`'s `gradients`): with
        workers, `matmat` sends the ``k`` (forward) or ``2 k`` (central)
        gradients of a block through it in one batch.
    """

    exact = False

    def __init__(self, gradient, scheme="2-point", rel_step=None, gradients=None):
        super().__init__()
        # ``gradients(points) -> list``, the oracle's batch: with workers its evaluations go out together
        self._gradients = gradients
        if scheme not in ("2-point", "3-point"):
            raise ValueError(f"finite-difference scheme must be '2-point' or '3-point'; got {scheme!r}")
        self.name = scheme
        self._gradient = gradient
        self.central = scheme == "3-point"
        default = _kernels.CBRT_EPS if self.central else _kernels.SQRT_EPS
        self.rel_step = default if rel_step is None else float(rel_step)
        self._g0 = None

    def linearize(self, x, gradient=None):
        self.x = x
        self._g0 = gradient

    def _product(self, p):
        if self.workers is not None and self.central:  # g(x + h p) and g(x - h p) go out together
            return self._block(p[:, None])[:, 0]
        x = self.x
        h = _kernels.fd_step(x, p, self.rel_step)
        out = np.empty_like(x)
        if h == 0.0:
            out[:] = 0.0
            return out
        # Fresh arrays for the displaced points: a user's gradient may return a view of its input.
        g_plus = self._gradient(_kernels.displaced(x, p, h, np.empty_like(x)))
        if self.central:
            g_minus = self._gradient(_kernels.displaced(x, p, -h, np.empty_like(x)))
            return _kernels.central_difference(g_plus, g_minus, h, out)
        if self._g0 is None:
            self._g0 = self._gradient(x)
        return _kernels.forward_difference(g_plus, self._g0, h, out)

    def use_workers(self, workers) -> None:
        # what goes out is the oracle's gradient calls: the oracle checks its own picklability
        self.workers = workers if self._gradients is not None else None

    def matmat(self, P) -> np.ndarray:
        if self.workers is None:
            return super().matmat(P)
        P = np.asarray(P, dtype=float)
        self.n_products += P.shape[1]
        return self._block(P)

    def _block(self, P):
        """Products with the columns of P, their gradient calls sent out in one batch (uncounted here)."""
        x = self.x
        k = P.shape[1]
        steps, points = [], []
        for j in range(k):  # the same steps and displaced points as `_product`, column by column
            p = np.ascontiguousarray(P[:, j])
            h = _kernels.fd_step(x, p, self.rel_step)
            steps.append(h)
            if h != 0.0:
                points.append(_kernels.displaced(x, p, h, np.empty_like(x)))
                if self.central:
                    points.append(_kernels.displaced(x, p, -h, np.empty_like(x)))
        need_g0 = not self.central and self._g0 is None and len(points) > 0
        if need_g0:
            points.append(x)
        grads = self._gradients(points)
        if need_g0:
            self._g0 = grads.pop()
        out = np.empty((x.size, k))
        at = 0
        for j, h in enumerate(steps):
            col = np.empty_like(x)
            if h == 0.0:
                col[:] = 0.0
            elif self.central:
                _kernels.central_difference(grads[at], grads[at + 1], h, col)
                at += 2
            else:
                _kernels.forward_difference(grads[at], self._g0, h, col)
                at += 1
            out[:, j] = col
        return out


class AutogradHVP(HVPBackend):
    """Exact products by forward-mode differentiation of autograd's gradient.

    Pearlmutter's R-operator: ``H p = d/dt grad f(x + t p)`` at ``t = 0``,
    computed as a forward-mode JVP of the reverse-mode gradient.  When
    `is_gradient` is true, `function` already is the gradient and its JVP is
    taken directly.
    """

    name = "autograd"

    def __init__(self, function, args=(), is_gradient=False):
        super().__init__()
        from autograd import grad, make_jvp

        args = tuple(args)
        gradient = (lambda x: function(x, *args)) if is_gradient else grad(lambda x: function(x, *args))
        self._jvp_at = make_jvp(gradient)
        self._jvp = None
        self._spec = (function, args, is_gradient)  # what a worker needs to rebuild the closures

    @staticmethod
    def is_available() -> bool:
        try:
            import autograd  # noqa: F401
        except ImportError:  # pragma: no cover - autograd is a core dependency
            return False
        return True

    def linearize(self, x, gradient=None):
        self.x = x
        self._jvp = self._jvp_at(x)

    def _product(self, p):
        return np.asarray(self._jvp(p)[1], dtype=float)

    _pickled_argument = "objective `fun` (or gradient `jac`) for autograd products"

    def _column_task(self):
        from .._workers import _AutogradProduct

        return _AutogradProduct(*self._spec, self.x)


class UserHessp(HVPBackend):
    """The user's ``hessp(x, p, *args)``."""

    name = "hessp"

    def __init__(self, hessp, args=()):
        super().__init__()
        self._hessp = hessp
        self._args = tuple(args)

    def _product(self, p):
        out = np.asarray(self._hessp(self.x, p, *self._args), dtype=float)
        if out.shape != p.shape:
            raise ValueError(f"`hessp` must return an array of shape {p.shape}; got shape {out.shape}")
        return out


class UserHess(HVPBackend):
    """The user's ``hess(x, *args)``: an array, a sparse matrix or a LinearOperator."""

    name = "hess"

    def __init__(self, hess, args=()):
        super().__init__()
        self._hess = hess
        self._args = tuple(args)
        self._matrix = None
        self.n_hess = 0

    @property
    def n_evaluations(self) -> int:
        return self.n_hess

    def use_workers(self, workers) -> None:
        pass  # products with one Hessian matrix are cheaper here than sent out

    def linearize(self, x, gradient=None):
        self.x = x
        self._matrix = None  # evaluated at the first product: a point may need none

    def _product(self, p):
        if self._matrix is None:
            self.n_hess += 1
            H = self._hess(self.x, *self._args)
            if not (isinstance(H, LinearOperator) or scipy.sparse.issparse(H)):
                H = np.asarray(H, dtype=float)
            n = self.x.size
            if H.shape != (n, n):
                raise ValueError(f"`hess` must return a ({n}, {n}) matrix or operator; got shape {H.shape}")
            self._matrix = H
        H = self._matrix
        out = H.matvec(p) if isinstance(H, LinearOperator) else H @ p
        return np.asarray(out, dtype=float).reshape(p.shape)
