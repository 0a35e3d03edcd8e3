"""trust-ncg compiled whole: the outer loop, Steihaug-Toint CG and the
finite-difference products in numba nopython mode, for jitted oracles.

When the user's `fun` and `jac` are numba-jitted, the Python loop of
`curvopt.trust_region._loop` spends nearly all its time in the interpreter
(microseconds of Python around every gradient call, against a gradient that
may take less than one).  This module runs the same algorithm, operation for
operation, in one compiled function that calls the user's compiled code
directly.

How the user's functions reach the compiled loop
------------------------------------------------
A jitted function that receives another jitted function (a numba
``Dispatcher``) as an argument is specialised on that dispatcher's identity,
so its on-disk cache never hits in a new process and every run pays the
whole compilation (seconds).  Declaring those arguments as first-class
function types (``numba.types.FunctionType``) makes the cache work, but then
every call unboxes each function in Python, about 20 us per function per call:
as much as a whole two-dimensional solve.

So the loop receives plain integers instead: the addresses of the user's
compiled entry points (the numba calling convention, so that exceptions
propagate, and the C wrapper), looked up once per function and signature and
remembered.  Inside the loop a small intrinsic turns the integers back into a
``FunctionType`` value of the right signature.  The loop's own argument types
are ordinary ones -- integers, floats, arrays and the type of the ``args``
tuple -- so it is compiled once per ``args`` signature, cached on disk, and a
call costs a few microseconds of dispatch.

The user's function is called directly when its compiled overload for
``(float64[::1], *args)`` already returns exactly what the loop expects
(``float64`` for `fun`, a C-contiguous float64 vector for `jac` and
`hessp`).  Otherwise -- a float32 or integer value, a gradient of another
dtype or layout, a dispatcher compiled only for other argument types -- a
tiny adapter that converts the result is compiled around it, once per process
and function.

Exactness with the Python path
------------------------------
The loop mirrors `curvopt.trust_region._loop.trust_region_body` with
`curvopt.trust_region.steihaug.solve` and the products of
`curvopt.hvp.backends`: the CG iterations are the Python path's own kernels
(`_cg_kernels`), the products its finite-difference kernels
(`curvopt.hvp._kernels`), the norms ``sqrt(np.dot(v, v))`` as
`curvopt._validation.norm`, and the counting rules are the same, so both
paths produce the same iterates and counts.  Keep them in step when either
changes; tests/test_compiled.py compares them.

numba's cache checks only the time stamp of the file that defines a cached
function, not of the files whose functions and constants it compiled in:
after editing ``_cg_kernels.py``, ``hvp/_kernels.py`` or the constants of
``_loop.py``, touch this file (or clear ``__pycache__``) so that the loop is
recompiled.  Installed copies are unaffected (an upgrade rewrites every
file).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import NumbaError
from numba.core.registry import CPUDispatcher
from numba.extending import intrinsic, overload

from .._linalg import dot as _dot
from .._linalg import norm as _norm
from .._oracle import Oracle, check_initial_point
from .._result import OptimizeResult, Status
from .._validation import as_point
from ..hvp._kernels import CBRT_EPS, SQRT_EPS, central_difference, displaced, fd_step, forward_difference
from . import _cg_kernels as _cg
from . import _loop
from .steihaug import StopReason

__all__ = ["is_jitted", "can_compile", "compiled_trust_ncg"]

# The Python loop's constants, so that both paths use the same numbers.
_EPS = float(_loop._EPS)
_F_RESOLUTION = float(_loop._F_RESOLUTION)
_MAX_CONSECUTIVE_FAILURES = int(_loop._MAX_CONSECUTIVE_FAILURES)

# Outcome codes of the compiled loop, mapped to `Status` in Python (the
# compiled code returns plain integers).
_SUCCESS = 0
_MAXITER = 1
_PRECISION_LOSS = 2
_NAN_RESULT = 3
_TRUST_RADIUS = 4
_EVAL_BUDGET = 5
_ORACLE_ERROR = 6
_BAD_GRADIENT_SHAPE = 7
_BAD_HESSP_SHAPE = 8

_STATUS = {
    _SUCCESS: Status.SUCCESS,
    _MAXITER: Status.MAXITER,
    _PRECISION_LOSS: Status.PRECISION_LOSS,
    _NAN_RESULT: Status.NAN_RESULT,
    _TRUST_RADIUS: Status.TRUST_RADIUS,
    _EVAL_BUDGET: Status.EVAL_BUDGET,
    _ORACLE_ERROR: Status.ORACLE_ERROR,
}

# Sources of products.
_FORWARD = 0
_CENTRAL = 1
_USER_HESSP = 2

# Stop reasons of the subproblem beyond those of _cg_kernels (steihaug.StopReason values).
_CG_MAXITER = int(StopReason.MAXITER)
_NONFINITE = int(StopReason.NONFINITE)

# Which user function raised in the last oracle failure.
_RAISED_NONE = 0
_RAISED_FUN = 1
_RAISED_JAC = 2

# Slots of the counter array shared by the compiled helpers.
_NFEV = 0
_NJEV = 1
_NHVP = 2

_VEC = types.Array(types.float64, 1, "C")


# ---------------------------------------------------------------------------
# Function values from entry-point addresses
# ---------------------------------------------------------------------------

def _value_signature(argtypes):
    return types.float64(_VEC, *argtypes)


def _gradient_signature(argtypes):
    return _VEC(_VEC, *argtypes)


def _hessp_signature(argtypes):
    return _VEC(_VEC, _VEC, *argtypes)


def _function_value(signature, c_addr, jit_addr, args):
    """Typing and code generation shared by the three intrinsics below: a
    first-class function value of `signature` from its two addresses."""
    fntype = types.FunctionType(signature)

    def codegen(context, builder, sig, llargs):
        fn = cgutils.create_struct_proxy(fntype)(context, builder)
        voidptr = context.get_value_type(types.voidptr)
        fn.c_addr = builder.inttoptr(llargs[0], voidptr)
        # A non-null jit_addr makes numba call through the numba calling
        # convention, which propagates the user's exceptions.
        fn.jit_addr = builder.inttoptr(llargs[1], voidptr)
        # py_addr is only read to box the value back into Python, which never happens here.
        fn.py_addr = context.get_constant_null(types.voidptr)
        return fn._getvalue()

    return fntype(c_addr, jit_addr, args), codegen


@intrinsic
def _value_function(typingctx, c_addr, jit_addr, args):
    return _function_value(_value_signature(tuple(args.types)), c_addr, jit_addr, args)


@intrinsic
def _gradient_function(typingctx, c_addr, jit_addr, args):
    return _function_value(_gradient_signature(tuple(args.types)), c_addr, jit_addr, args)


@intrinsic
def _hessp_function(typingctx, c_addr, jit_addr, args):
    return _function_value(_hessp_signature(tuple(args.types)), c_addr, jit_addr, args)


# ---------------------------------------------------------------------------
# Conversions used by adapters (compile-time dispatch on the returned type)
# ---------------------------------------------------------------------------

def _as_float(value):  # pragma: no cover - only its numba overload is ever called
    raise NotImplementedError


def _as_vector(value):  # pragma: no cover - only its numba overload is ever called
    raise NotImplementedError


@overload(_as_float)
def _as_float_impl(value):
    if isinstance(value, types.Array):
        # Size 1 was checked at x0, as the Python path's `_as_scalar` does.
        return lambda value: np.float64(value.flat[0])
    if isinstance(value, (types.Float, types.Integer, types.Boolean)):
        return lambda value: np.float64(value)
    return None


@overload(_as_vector)
def _as_vector_impl(value):
    if isinstance(value, types.Array) and value.ndim == 1:

        def impl(value):
            out = np.empty(value.shape[0])
            for i in range(value.shape[0]):
                out[i] = value[i]
            return out

        return impl
    return None


# ---------------------------------------------------------------------------
# Calls of the user's functions
# ---------------------------------------------------------------------------

# Star-argument calls live in helpers of their own: numba cannot unpack a
# tuple into a call inside a try block.
@njit(cache=True)
def _call1(function, x, args):
    return function(x, *args)


@njit(cache=True)
def _call2(function, x, p, args):
    return function(x, p, *args)


@njit(cache=True)
def _value_or_fail(fun, x, args, counts):
    """(f(x), True), or (NaN, False) if `fun` raised: a failed trial point, as in the Python path."""
    counts[_NFEV] += 1
    try:
        return _call1(fun, x, args), True
    except Exception:  # noqa: BLE001 - any failure of the user's code at a trial point
        return np.nan, False


@njit(cache=True)
def _charge_gradient(counts, max_grad_calls):
    """Count one gradient call; False when the budget is already spent (Oracle._charge_gradient)."""
    if max_grad_calls >= 0 and counts[_NJEV] >= max_grad_calls:
        return False
    counts[_NJEV] += 1
    return True


@njit(cache=True)
def _gradient_or_fail(jac, x, args):
    """(g(x), True), or (an empty vector, False) if `jac` raised."""
    try:
        return _call1(jac, x, args), True
    except Exception:  # noqa: BLE001
        return np.empty(0), False


@njit(cache=True)
def _copy(src, dst):
    # An explicit loop: slice assignment compiles numba's shape-mismatch error
    # formatting, which costs seconds of the first compilation.
    for i in range(src.size):
        dst[i] = src[i]


@njit(cache=True)
def _all_finite(v):
    for i in range(v.size):
        if not math.isfinite(v[i]):
            return False
    return True


@njit(cache=True)
def _product(mode, jac, hessp, args, x, g0, p, rel_step, counts, max_grad_calls, failed_at, xp, xm, out):
    """H p at x: forward or central differences of `jac`, or the user's `hessp`
    (the products of `curvopt.hvp.backends`).

    Returns ``(Hp, code)``, `code` 0 or the outcome code that ends the run.
    `xp`, `xm` (displaced points) and `out` (the difference) are work vectors
    reused from product to product: a gradient computed at a displaced point
    is consumed before the next product, and CG is done with one product
    when it asks for the next.
    """
    n = x.size
    counts[_NHVP] += 1  # counted before the work, as HVPBackend.__call__ does
    if mode == _USER_HESSP:
        hp = _call2(hessp, x, p, args)
        if hp.size != n:
            return hp, _BAD_HESSP_SHAPE
        return hp, 0
    h = fd_step(x, p, rel_step)
    if h == 0.0:
        for i in range(n):
            out[i] = 0.0
        return out, 0
    if not _charge_gradient(counts, max_grad_calls):
        return out, _EVAL_BUDGET
    displaced(x, p, h, xp)
    g_plus, ok = _gradient_or_fail(jac, xp, args)
    if not ok:
        _copy(xp, failed_at)
        return out, _ORACLE_ERROR
    if g_plus.size != n:
        return out, _BAD_GRADIENT_SHAPE
    if mode == _CENTRAL:
        if not _charge_gradient(counts, max_grad_calls):
            return out, _EVAL_BUDGET
        displaced(x, p, -h, xm)
        g_minus, ok = _gradient_or_fail(jac, xm, args)
        if not ok:
            _copy(xm, failed_at)
            return out, _ORACLE_ERROR
        if g_minus.size != n:
            return out, _BAD_GRADIENT_SHAPE
        central_difference(g_plus, g_minus, h, out)
    else:
        forward_difference(g_plus, g0, h, out)
    return out, 0


# ---------------------------------------------------------------------------
# Steihaug-Toint CG (steihaug.solve, on the same kernels)
# ---------------------------------------------------------------------------

@njit(cache=True)
def _steihaug(mode, jac, hessp, args, x, g, radius, tol, maxiter, rel_step, counts, max_grad_calls,
              failed_at, xp, xm, hd_work):
    """`steihaug.solve` with the products of `_product`.

    Returns ``(step, predicted_reduction, reason, n_products, hits_boundary,
    code)``; a nonzero `code` (budget, oracle error, bad shape) ends the run.
    The CG arithmetic is `_cg_kernels.cg_iteration` itself, so both paths
    stay in step.
    """
    n = g.size
    z = np.zeros(n)
    r = g.copy()
    d = -g
    rr = _dot(r, r)
    for j in range(maxiter):
        hd, code = _product(mode, jac, hessp, args, x, g, d, rel_step, counts, max_grad_calls, failed_at, xp, xm,
                            hd_work)
        if code != 0:
            return z, 0.0, _NONFINITE, j + 1, False, code
        reason, rr, _ = _cg.cg_iteration(z, r, d, hd, rr, radius, tol)
        if reason == _cg.CONTINUE:
            continue
        if reason == _cg.NEGATIVE_CURVATURE and math.isinf(radius) and j == 0:
            # no curvature information: the steepest-descent direction, with g'g as its "reduction"
            return d, _dot(g, g), reason, 1, False, 0
        # Boundary stops come back on the boundary; an unbounded (radius = inf)
        # negative-curvature stop and a NaN product do not.
        hits_boundary = reason == _cg.BOUNDARY or (reason == _cg.NEGATIVE_CURVATURE and not math.isinf(radius))
        return z, _cg.model_decrease(g, z, r), reason, j + 1, hits_boundary, 0
    return z, _cg.model_decrease(g, z, r), _CG_MAXITER, maxiter, False, 0


# ---------------------------------------------------------------------------
# The outer loop (_loop.trust_region_body)
# ---------------------------------------------------------------------------

# nogil: independent runs (a multi-start, say) can share a thread pool.
@njit(cache=True, nogil=True)
def _trust_ncg_loop(fun_addr, jac_addr, hessp_addr, args, x0, f0, g0, mode, gtol, maxiter,
                    initial_trust_radius, max_trust_radius, eta, cg_maxiter, rel_step,
                    max_grad_calls, nfev0, njev0):
    """The whole trust-ncg run.

    Returns ``(code, x, f, g, nit, nfev, njev, n_hvp, n_nonfinite,
    cg_iterations, raised, raised_at)``: `code` is one of the module's
    outcome codes; `raised` says which user function raised at the point
    `raised_at` in the last oracle failure that the Python path would report
    as ``result.exception`` (0 none, 1 `fun`, 2 `jac`).
    """
    fun = _value_function(fun_addr[0], fun_addr[1], args)
    jac = _gradient_function(jac_addr[0], jac_addr[1], args)
    hessp = _hessp_function(hessp_addr[0], hessp_addr[1], args)
    n = x0.size
    counts = np.zeros(3, dtype=np.int64)
    counts[_NFEV] = nfev0
    counts[_NJEV] = njev0
    failed_at = np.zeros(n)
    xp = np.empty(n)
    xm = np.empty(n)
    hd_work = np.empty(n)
    x = x0.copy()
    f = f0
    g = g0.copy()
    gnorm = _norm(g)
    radius = initial_trust_radius
    nit = 0
    n_nonfinite = 0
    cg_iterations = 0
    consecutive_failures = 0
    raised = _RAISED_NONE
    while True:
        if gnorm <= gtol:
            code = _SUCCESS
            break
        if nit >= maxiter:
            code = _MAXITER
            break
        tol = min(0.5, math.sqrt(gnorm)) * gnorm  # forcing_tolerance
        step, pred, reason, n_products, hits_boundary, code = _steihaug(
            mode, jac, hessp, args, x, g, radius, tol, cg_maxiter, rel_step, counts, max_grad_calls,
            failed_at, xp, xm, hd_work)
        if code != 0:
            if code == _ORACLE_ERROR:
                raised = _RAISED_JAC
            break  # cut short inside the subproblem: nit and cg_iterations stay, as in Python
        nit += 1
        cg_iterations += n_products
        step_norm = _norm(step)
        rho = -math.inf
        nonfinite = False
        if reason == _NONFINITE and step_norm == 0.0:
            nonfinite = True  # the gradient is not finite right next to x
        elif not pred > 0.0:
            code = _PRECISION_LOSS
            break
        else:
            x_trial = np.empty(n)  # fresh: the accepted gradient may be a view of it
            for i in range(n):
                x_trial[i] = x[i] + step[i]
            f_trial, ok = _value_or_fail(fun, x_trial, args, counts)
            if not ok:
                raised = _RAISED_FUN
                _copy(x_trial, failed_at)
            else:
                raised = _RAISED_NONE
            if not math.isfinite(f_trial):
                nonfinite = True
            else:
                rho = (f - f_trial) / pred
                resolution = _F_RESOLUTION * abs(f)
                if rho > eta or pred < resolution:
                    if not _charge_gradient(counts, max_grad_calls):
                        code = _EVAL_BUDGET
                        break
                    g_trial, ok = _gradient_or_fail(jac, x_trial, args)
                    if not ok:
                        raised = _RAISED_JAC
                        _copy(x_trial, failed_at)
                        nonfinite = True
                    else:
                        raised = _RAISED_NONE
                        if g_trial.size != n:
                            code = _BAD_GRADIENT_SHAPE
                            break
                        if not _all_finite(g_trial):
                            nonfinite = True
                        else:
                            gnorm_trial = _norm(g_trial)
                            if rho > eta or (f_trial <= f + resolution and gnorm_trial < gnorm):
                                x = x_trial
                                f = f_trial
                                g = g_trial
                                gnorm = gnorm_trial
        if nonfinite:
            n_nonfinite += 1
            consecutive_failures += 1
            rho = -math.inf
            if consecutive_failures > _MAX_CONSECUTIVE_FAILURES:
                code = _ORACLE_ERROR if raised != _RAISED_NONE else _NAN_RESULT
                break
        else:
            consecutive_failures = 0
        if rho < 0.25:
            radius = 0.25 * radius
        elif rho > 0.75 and hits_boundary:
            radius = min(2.0 * radius, max_trust_radius)
        if radius < 1e-10 and radius < _EPS * max(1.0, _norm(x)):
            code = _NAN_RESULT if nonfinite else _TRUST_RADIUS
            break
    return (code, x, f, g, nit, counts[_NFEV], counts[_NJEV], counts[_NHVP], n_nonfinite, cg_iterations,
            raised, failed_at)


# ---------------------------------------------------------------------------
# Python side: resolving the user's functions, the entry points
# ---------------------------------------------------------------------------

def is_jitted(obj) -> bool:
    """Whether `obj` is a numba-jitted function that nopython code can call.

    Parameters
    ----------
    obj : object

    Returns
    -------
    bool
        True for a CPU dispatcher made by ``numba.njit`` or ``numba.jit``
        (not ``forceobj``); False for everything else, including
        ``numba.vectorize`` ufuncs and ``cfunc`` objects.
    """
    return isinstance(obj, CPUDispatcher) and not obj.targetoptions.get("forceobj", False)


def can_compile(fun, jac, hess, hessp, callback, options, args=()) -> bool:
    """Whether a trust-ncg call can run on the compiled path.

    Parameters
    ----------
    fun, jac, hess, hessp, callback :
        The arguments of `curvopt.minimize`.
    options : dict or None
        The method's options; ``compiled=False``, ``disp`` and
        ``return_all`` need the Python loop.
    args : tuple, optional
        The extra arguments; each must have a numba type.

    Returns
    -------
    bool
        True when `fun` and `jac` are jitted (`jac` a function, not True or a
        string), `hess` is None, `hessp` is None, jitted, '2-point' or
        '3-point', there is no callback, the options ask for no per-iteration
        output, and numba can type every element of `args`.
    """
    options = {} if options is None else options
    if options.get("compiled", "auto") is False or options.get("disp") or options.get("return_all"):
        return False
    if callback is not None or hess is not None:
        return False
    if not (is_jitted(fun) and is_jitted(jac)):
        return False
    if hessp is not None and not is_jitted(hessp):
        if not (isinstance(hessp, str) and hessp.lower() in ("2-point", "3-point")):
            return False
    try:
        _argtypes(args if isinstance(args, tuple) else (args,))
    except ValueError:
        return False
    return True


def _argtypes(args):
    types_ = []
    for a in args:
        try:
            types_.append(numba.typeof(a))
        except ValueError:
            raise ValueError(
                f"the compiled trust-ncg needs `args` that numba can type; got a {type(a).__name__}"
            ) from None
    return tuple(types_)


_SIGNATURES = {"fun": _value_signature, "jac": _gradient_signature, "hessp": _hessp_signature}
_ADAPTED = {"fun": "_as_float", "jac": "_as_vector", "hessp": "_as_vector"}

# Resolved entry points are kept on the user's dispatcher itself, under this
# attribute, so that they live and die with it.  (Not quite for adapters:
# numba keeps an adapter's typed IR, which refers to the wrapped function, in
# a cycle the garbage collector does not free, so a function that needed an
# adapter stays alive for the rest of the process.  A global registry would
# leak every function.)
_ENTRIES_ATTRIBUTE = "_curvopt_compiled_entries"


class _Entry:
    """The compiled overload the loop calls (the user's or an adapter's) and its addresses."""

    __slots__ = ("owner", "cres", "addresses")

    def __init__(self, owner, cres):
        self.owner = owner  # the dispatcher holding `cres`; keeps the code alive
        self.cres = cres
        library = cres.library
        self.addresses = (
            library.get_pointer_to_function(cres.fndesc.llvm_cfunc_wrapper_name),
            library.get_pointer_to_function(cres.fndesc.llvm_func_name),
        )

    def is_current(self) -> bool:
        # A recompiled dispatcher (``recompile()``) drops the overload the addresses point into.
        return self.owner.overloads.get(self.cres.signature.args) is self.cres


def _addresses(function, kind, argtypes):
    """Entry-point addresses of `function` with the signature the loop expects for `kind`."""
    entries = function.__dict__.get(_ENTRIES_ATTRIBUTE)
    if entries is None:
        entries = {}
        setattr(function, _ENTRIES_ATTRIBUTE, entries)
    entry = entries.get((kind, argtypes))
    if entry is None or not entry.is_current():
        entry = _resolve(function, kind, argtypes)
        entries[(kind, argtypes)] = entry
    return entry.addresses


def _resolve(function, kind, argtypes):
    signature = _SIGNATURES[kind](argtypes)
    cres = function.overloads.get(signature.args)
    if cres is None and kind == "hessp" and function._can_compile:
        # `fun` and `jac` were compiled by the calls at x0; `hessp` has not been called yet.
        try:
            cres = function.get_compile_result(signature)
        except NumbaError:
            cres = None
    if cres is not None and cres.signature.return_type == signature.return_type:
        return _Entry(function, cres)
    adapter = _adapter(function, kind, len(argtypes))
    try:
        cres = adapter.get_compile_result(signature)
    except NumbaError as exc:
        what = "a scalar" if kind == "fun" else "a 1-D array"
        raise ValueError(
            f"`{kind}` must return {what} for the compiled trust-ncg; numba could not use it with "
            f"arguments {signature.args}: {str(exc).splitlines()[0]}"
        ) from None
    return _Entry(adapter, cres)


def _adapter(function, kind, n_args):
    """A jitted wrapper with explicit parameters that converts `function`'s result."""
    params = "".join(f", a{i}" for i in range(n_args))
    point = "x, p" if kind == "hessp" else "x"
    source = f"def adapter({point}{params}):\n    return {_ADAPTED[kind]}(user({point}{params}))\n"
    namespace = {"user": function, "_as_float": _as_float, "_as_vector": _as_vector}
    exec(source, namespace)  # noqa: S102 - fixed template; only the parameter count varies
    return njit(namespace["adapter"])


def compiled_trust_ncg(fun, jac, hessp, x0, args, *, gtol=1e-4, maxiter=None, initial_trust_radius=1.0,
                       max_trust_radius=1000.0, eta=0.15, cg_maxiter=None, hvp_eps=None,
                       max_grad_calls=None) -> OptimizeResult:
    """trust-ncg run entirely in numba nopython mode, for jitted `fun` and `jac`.

    The same algorithm, iterates and counts as the Python path
    (`curvopt.trust_region._loop` with Steihaug-Toint CG); see the module
    docstring for how the user's compiled functions are called.

    Parameters
    ----------
    fun : numba dispatcher
        ``fun(x, *args) -> float`` (any real scalar or size-1 array).
    jac : numba dispatcher
        ``jac(x, *args) -> ndarray, shape (n,)`` (any real dtype and layout).
    hessp : numba dispatcher, {'2-point', '3-point'} or None
        ``hessp(x, p, *args) -> H p``, or finite differences of `jac`:
        forward (one gradient call per product, g(x) reused; the default for
        None) or central (two calls).
    x0 : array_like, shape (n,)
        Starting point.
    args : tuple
        Extra arguments of `fun`, `jac` and `hessp`; each must have a numba
        type (numbers, arrays, tuples of them, ...).
    gtol, maxiter, initial_trust_radius, max_trust_radius, eta, cg_maxiter :
        As the options of ``method='trust-ncg'`` (`curvopt._registry.trust_ncg`);
        `maxiter` defaults to ``200 n`` and `cg_maxiter` to ``max(20, 2 n)``.
    hvp_eps : float, optional
        Relative finite-difference factor (sqrt(eps) for '2-point', eps^(1/3)
        for '3-point' by default).
    max_grad_calls : int, optional
        Budget on gradient calls, the one at x0 and those inside products
        included; when spent the run ends with status ``EVAL_BUDGET``.

    Returns
    -------
    OptimizeResult
        The keys of the Python path (``x, fun, jac, nit, nfev, njev, nhev,
        n_hvp, status, success, message, n_nonfinite, cg_iterations``, and
        ``exception`` when the last call of the user's code failed) and
        ``compiled=True``.

    Raises
    ------
    ValueError
        Non-finite value or gradient at x0, a gradient or product of the
        wrong shape, or functions numba cannot call with these arguments.

    Notes
    -----
    The first call for a given ``args`` signature compiles the loop (a few
    seconds) and caches it on disk; later processes load it in about 10 ms.
    A function whose compiled result is not exactly float64 (`fun`) or a
    C-contiguous float64 vector (`jac`, `hessp`) gets a small adapter,
    compiled once per process.

    As in the Python path, a `fun` or `jac` that raises at a trial point
    counts as a failed (non-finite) trial, and a `jac` that raises inside a
    finite-difference product ends the run with ``ORACLE_ERROR`` and the
    best point so far; ``result.exception`` is recreated by calling the
    function again, from Python, at the point where it failed (nopython code
    cannot return exception objects).  An exception raised by `hessp`
    propagates, as in the Python path.

    The loop releases the GIL, so independent runs can share a thread pool;
    it cannot be interrupted with Ctrl-C.
    """
    args = args if isinstance(args, tuple) else (args,)
    x0 = as_point(x0)
    n = x0.size
    maxiter = 200 * n if maxiter is None else int(maxiter)
    cg_maxiter = max(20, 2 * n) if cg_maxiter is None else int(cg_maxiter)
    if hessp is None:
        hessp = "2-point"
    if isinstance(hessp, str):
        scheme = hessp.lower()
        if scheme not in ("2-point", "3-point"):
            raise ValueError(f"`hessp` must be a jitted function, '2-point' or '3-point'; got {hessp!r}")
        mode = _CENTRAL if scheme == "3-point" else _FORWARD
        default = CBRT_EPS if mode == _CENTRAL else SQRT_EPS
        rel_step = default if hvp_eps is None else float(hvp_eps)
    elif is_jitted(hessp):
        mode = _USER_HESSP
        rel_step = 0.0
    else:
        raise ValueError(f"`hessp` must be a jitted function, '2-point' or '3-point'; got {hessp!r}")
    if not (is_jitted(fun) and is_jitted(jac)):
        raise ValueError("the compiled trust-ncg needs numba-jitted `fun` and `jac`")

    # x0 in Python, through the Python path's own oracle: the same checks,
    # messages and counts, and the calls compile the user's functions for
    # exactly the argument types the loop passes.
    oracle = Oracle(fun, jac, args, "callable", max_grad_calls)
    f0, g0 = check_initial_point(oracle, x0)
    argtypes = _argtypes(args)
    fun_addr = _addresses(fun, "fun", argtypes)
    jac_addr = _addresses(jac, "jac", argtypes)
    hessp_addr = _addresses(hessp, "hessp", argtypes) if mode == _USER_HESSP else (0, 0)

    (code, x, f, g, nit, nfev, njev, n_hvp, n_nonfinite, cg_iterations, raised, raised_at) = _trust_ncg_loop(
        fun_addr, jac_addr, hessp_addr, args, x0, float(f0), np.array(g0, dtype=np.float64), mode,
        float(gtol), maxiter, float(initial_trust_radius), float(max_trust_radius), float(eta), cg_maxiter,
        rel_step, -1 if max_grad_calls is None else int(max_grad_calls), oracle.nfev, oracle.njev,
    )
    if code == _BAD_GRADIENT_SHAPE:
        raise ValueError(f"`jac` must return an array of shape ({n},), like x0; it returned another size")
    if code == _BAD_HESSP_SHAPE:
        raise ValueError(f"`hessp` must return an array of shape ({n},); it returned another size")
    status = _STATUS[code]
    res = OptimizeResult(
        x=x,
        fun=float(f),
        jac=g,
        nit=int(nit),
        nfev=int(nfev),
        njev=int(njev),
        nhev=int(n_hvp),
        n_hvp=int(n_hvp),
        status=int(status),
        success=status.success,
        message=status.message,
        n_nonfinite=int(n_nonfinite),
        cg_iterations=int(cg_iterations),
        compiled=True,
    )
    if raised != _RAISED_NONE:
        # The Python path keeps the exception of the last failed oracle call
        # (cleared by the next successful one) in result.exception.
        res["exception"] = _exception_at(fun if raised == _RAISED_FUN else jac, raised_at, args)
    return res


def _exception_at(function, x, args):
    """The exception `function` raised at `x`, recreated by calling it again
    from Python (nopython code cannot hand an exception object back); this
    call is not counted."""
    try:
        function(x, *args)
    except Exception as exc:  # noqa: BLE001 - whatever the user's code raised
        return exc
    return RuntimeError("the user's function raised inside the compiled loop but not when called again "
                        "at the same point")
