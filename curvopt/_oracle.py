"""The user's objective and gradient behind one counting interface.

Every call of the user's code goes through an `Oracle`, so that the counts in
the result (`nfev`, `njev`) are exact whatever the route: a gradient callable,
``jac=True`` (one call gives both), autograd, or finite differences of `fun`.
Gradient calls are the currency of this library.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "Oracle",
    "OracleError",
    "BudgetExhausted",
    "make_oracle",
    "autograd_traceable",
    "autograd_jvp_works",
    "check_initial_point",
    "is_numba_dispatcher",
]

_FD_GRADIENT_SCHEMES = ("2-point", "3-point")


class BudgetExhausted(Exception):
    """Raised inside a solver when the gradient-call budget is used up."""


class OracleError(Exception):
    """The user's `fun` or `jac` raised; the original exception is ``__cause__``.

    Solvers treat it as a failed trial step where it happens at a trial point,
    and end the run with the best point so far anywhere else.
    """


class Oracle:
    """Counted access to the objective ``f(x, *args)`` and its gradient.

    Parameters
    ----------
    fun : callable
        The objective; with ``jac_mode == 'combined'`` it returns ``(f, g)``.
    jac : callable or None
        The gradient ``g(x, *args)``; None for the combined, autograd and
        finite-difference modes (which build it).
    args : tuple
        Extra arguments passed to `fun` and `jac`.
    jac_mode : {'callable', 'combined', 'autograd', '2-point', '3-point'}
        How the gradient is obtained.
    max_grad_calls : int or None
        Budget on gradient calls; `BudgetExhausted` is raised when a call would
        exceed it.

    Attributes
    ----------
    nfev, njev : int
        Calls of the objective and of the gradient (every call made by
        finite-difference Hessian-vector products included).
    """

    def __init__(self, fun, jac=None, args=(), jac_mode="callable", max_grad_calls=None):
        self._fun = fun
        self._jac = jac
        self.args = tuple(args)
        self.jac_mode = jac_mode
        self.max_grad_calls = max_grad_calls
        self.nfev = 0
        self.njev = 0
        # A `curvopt._log.EvaluationLog` (option `log`): every user call is written to it and,
        # on a resumed run, answered from it when it holds the same call.
        self.log = None
        # a `curvopt._workers.Workers`: batches of independent evaluations go out together
        self.workers = None
        # The last point valued, with its value and (combined mode) its gradient, so
        # that asking for the gradient at a point just valued never pays twice.
        self._cache_x = None
        self._cache_f = None
        self._cache_g = None
        if jac_mode == "autograd":
            from autograd import grad, value_and_grad

            self._ag_grad = grad(lambda x: fun(x, *self.args))
            self._ag_value_and_grad = value_and_grad(lambda x: fun(x, *self.args))

    @property
    def jac_callable(self):
        """The user's gradient callable (mode 'callable'), else None."""
        return self._jac

    def value(self, x) -> float:
        """The objective at `x` (in combined mode the gradient comes with it, free)."""
        if self.jac_mode == "combined":
            return self.value_and_gradient(x)[0]
        self.nfev += 1
        f = _as_scalar(self._call(self._fun, x))
        if self.jac_mode in _FD_GRADIENT_SCHEMES:  # a forward-difference gradient reuses f(x)
            self._remember(x, f, None)
        return f

    def gradient(self, x) -> np.ndarray:
        """The gradient at `x`: one gradient call, unless `x` was just valued in combined mode."""
        if self._cache_g is not None and np.array_equal(x, self._cache_x):
            return self._cache_g
        mode = self.jac_mode
        if mode == "combined":
            return self.value_and_gradient(x)[1]
        self._charge_gradient()
        if mode == "callable":
            g = self._call(self._jac, x)
        elif mode == "autograd":
            g = self._call(self._ag_grad, x, with_args=False)
        else:
            f0 = self._cache_f if np.array_equal(x, self._cache_x) else None
            g = self._fd_gradient(x, f0)
        return _as_gradient(g, x.size)

    def gradients(self, points) -> list:
        """Gradients at independent `points`: one gradient call each, sent out together with workers."""
        if self.workers is None:
            return [self.gradient(x) for x in points]
        from ._workers import gradients

        return gradients(self, points)

    def value_and_gradient(self, x):
        """Value and gradient at `x`, at the price of one gradient call."""
        mode = self.jac_mode
        if mode == "combined":
            self._charge_gradient()
            self.nfev += 1
            out = self._call(self._fun, x)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise ValueError("with jac=True, `fun` must return a tuple (f, g); got " + type(out).__name__)
            f, g = _as_scalar(out[0]), _as_gradient(out[1], x.size)
            self._remember(x, f, g)
            return f, g
        if mode == "autograd":
            self._charge_gradient()
            f, g = self._call(self._ag_value_and_grad, x, with_args=False)
            return _as_scalar(f), _as_gradient(g, x.size)
        f = self.value(x)
        return f, self.gradient(x)

    def _call(self, function, x, with_args=True):
        if self.log is not None:
            return self.log.evaluate(self._kind(function), lambda y: self._call_user(function, y, with_args), x)
        return self._call_user(function, x, with_args)

    def _kind(self, function) -> str:
        """What a call of `function` returns: 'fun', 'jac' or 'fun_and_jac' (the log's kinds)."""
        if function is self._fun:
            return "fun_and_jac" if self.jac_mode == "combined" else "fun"
        if function is self._jac or function is getattr(self, "_ag_grad", None):
            return "jac"
        return "fun_and_jac"  # autograd's value_and_grad

    def _call_user(self, function, x, with_args=True):
        try:
            return function(x, *self.args) if with_args else function(x)
        except Exception as exc:
            raise OracleError(f"{type(exc).__name__}: {exc}") from exc

    def _remember(self, x, f, g):
        self._cache_x = np.array(x, dtype=float, copy=True)
        self._cache_f = f
        self._cache_g = g

    def _charge_gradient(self):
        if self.max_grad_calls is not None and self.njev >= self.max_grad_calls:
            raise BudgetExhausted
        self.njev += 1

    def _fd_gradient(self, x, f0):
        """Finite differences of `fun`: forward (n calls) or central (2n calls).

        Steps are ``eps**(1/2)`` (forward) and ``eps**(1/3)`` (central) times
        ``max(1, |x_i|)``, the choices of Nocedal & Wright, Sec. 8.1.
        """
        if self.workers is not None:  # the displaced values are independent: they go out together
            from ._workers import fd_gradient

            return fd_gradient(self, x, f0)
        n = x.size
        g = np.empty(n)
        central = self.jac_mode == "3-point"
        rel = np.finfo(float).eps ** (1 / 3 if central else 1 / 2)
        if not central and f0 is None:
            self.nfev += 1
            f0 = _as_scalar(self._call(self._fun, x))
        xt = np.array(x, dtype=float, copy=True)
        for i in range(n):
            h = rel * max(1.0, abs(x[i]))
            xt[i] = x[i] + h
            h = xt[i] - x[i]  # the step actually taken, after rounding
            self.nfev += 1
            fp = _as_scalar(self._call(self._fun, xt))
            if central:
                xt[i] = x[i] - h
                self.nfev += 1
                fm = _as_scalar(self._call(self._fun, xt))
                g[i] = (fp - fm) / (2 * h)
            else:
                g[i] = (fp - f0) / h
            xt[i] = x[i]
        return g


def _as_scalar(value) -> float:
    if type(value) is float:  # the common case, without numpy's overhead
        return value
    arr = _as_real_array(value, "`fun` must return a real scalar")
    if arr.size != 1:
        raise ValueError(f"`fun` must return a scalar; got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def _as_real_array(value, expected) -> np.ndarray:
    """`value` as a float array; a ValueError saying `expected` for None, text or complex numbers,
    which numpy would turn into NaN, an error naming no argument, or a silent loss of the imaginary part."""
    arr = np.asarray(value)
    if arr.dtype.kind in "fiub":
        return arr.astype(float, copy=False)
    if value is not None and arr.dtype.kind == "O":
        try:
            return np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            pass
    raise ValueError(f"{expected}; got {type(value).__name__} {_short_repr(value)}")


def _short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_gradient(value, n) -> np.ndarray:
    g = _as_real_array(value, "`jac` must return an array of real numbers")
    if g.shape != (n,):
        raise ValueError(f"`jac` must return an array of shape ({n},), like x0; got shape {g.shape}")
    return g


# The last answer of `autograd_traceable`, so that deciding on a method and then building the
# oracle cost one traced call of the user's function, not two.
_last_trace = (None, None, None, None)


def autograd_traceable(fun, x0, args) -> bool:
    """Whether autograd can differentiate `fun` at `x0` (one traced call of `fun`; the same
    question asked again for the same `fun`, `x0` and `args` is answered without a call)."""
    global _last_trace
    key = (fun, np.asarray(x0, dtype=float).tobytes(), args)
    if _last_trace[0] is fun and _last_trace[1] == key[1] and _last_trace[2] is args:
        return _last_trace[3]
    answer = _trace(fun, x0, args)
    _last_trace = (*key, answer)
    return answer


def _trace(fun, x0, args) -> bool:
    if is_numba_dispatcher(fun):
        return False
    try:
        from autograd import grad

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = np.asarray(grad(lambda x: fun(x, *args))(x0), dtype=float)
    except Exception:
        return False
    return g.shape == x0.shape and bool(np.all(np.isfinite(g)))


def autograd_jvp_works(jac, x0, args) -> bool:
    """Whether autograd's forward mode can differentiate the gradient `jac` at `x0`."""
    if is_numba_dispatcher(jac):
        return False
    try:
        from autograd import make_jvp

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # autograd warns when the output does not depend on x
            out = np.asarray(make_jvp(lambda x: jac(x, *args))(x0)(np.ones_like(x0))[1], dtype=float)
    except Exception:
        return False
    return out.shape == x0.shape and bool(np.all(np.isfinite(out)))


def is_numba_dispatcher(obj) -> bool:
    return type(obj).__module__.startswith("numba.") and hasattr(obj, "py_func")


def make_oracle(fun, x0, jac, args, max_grad_calls=None, *, stacklevel=3) -> Oracle:
    """Resolve the `jac` argument of `minimize` once, into an `Oracle`.

    ``jac=None`` uses autograd when `fun` can be traced by it, otherwise
    forward differences with a warning that says how to do better.
    """
    if not callable(fun):
        raise TypeError(f"`fun` must be callable; got {type(fun).__name__}")
    if callable(jac):
        mode = "callable"
    elif jac is True:
        mode = "combined"
    elif isinstance(jac, str):
        mode = jac.lower()
        if mode not in ("autograd",) + _FD_GRADIENT_SCHEMES:
            raise ValueError(
                f"`jac` must be a callable, True, 'autograd', '2-point' or '3-point'; got {jac!r}"
            )
        if mode == "autograd" and not autograd_traceable(fun, x0, args):
            raise ValueError(
                "jac='autograd' but autograd cannot differentiate `fun` at x0: write it with "
                "`import autograd.numpy as np` (no in-place array assignment, no numba)"
            )
    elif jac is None or jac is False:
        if autograd_traceable(fun, x0, args):
            mode = "autograd"
        else:
            mode = "2-point"
            warnings.warn(
                "no gradient given (jac=None) and autograd cannot trace `fun`: using forward "
                f"differences of `fun` ({x0.size + 1} calls per gradient, about sqrt(machine eps) accuracy). "
                "Pass jac=<gradient callable>, jac=True (fun returns (f, g)), or write `fun` with "
                "autograd.numpy for exact gradients.",
                RuntimeWarning,
                stacklevel=stacklevel,
            )
    else:
        raise ValueError(f"`jac` must be a callable, True, 'autograd', '2-point' or '3-point'; got {jac!r}")
    return Oracle(fun, jac if mode == "callable" else None, args, mode, max_grad_calls)


def check_initial_point(oracle: Oracle, x0: np.ndarray):
    """Value and gradient at x0 with the checks `minimize` promises on bad input."""
    try:
        f0, g0 = oracle.value_and_gradient(x0)
    except OracleError as err:
        raise err.__cause__  # at x0 the user's own error, with its own traceback, is the clearest message
    if not np.isfinite(f0):
        raise ValueError(f"`fun` must return a finite scalar at x0; got {f0}")
    if not np.all(np.isfinite(g0)):
        raise ValueError("`jac` returned a non-finite gradient at x0 (NaN or inf)")
    return f0, g0

