"""`minimize`: check the inputs once, look the method up, run it."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.optimize

from . import _registry
from ._oracle import Oracle, autograd_traceable, check_initial_point, is_numba_dispatcher, make_oracle
from ._result import OptimizeResult
from ._log import log_products, open_log
from ._run import DEFAULT_MAX_FAILURES, Run, execute
from ._validation import as_point
from ._workers import LOG_AND_WORKERS, use_workers
from .stats import result_hess_inv
from .hvp._resolve import make_backend
from .trust_region.bounded import as_bounds, box_oracle, clip_start

__all__ = ["minimize"]


def minimize(fun, x0, args=(), method=None, jac=None, hess=None, hessp=None, bounds=None, constraints=(),
             tol=None, callback=None, options=None):
    """Minimize a scalar function; a drop-in replacement for `scipy.optimize.minimize`.

    curvopt's own methods are second-order methods that need nothing but a
    gradient: Hessian-vector products come from finite differences of the
    gradient, from autograd, or from the user's `hessp`/`hess`.  Every other
    scipy method name is passed to scipy unchanged.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float`` (or ``(float, ndarray)`` with ``jac=True``).
    x0 : array_like, shape (n,)
        Starting point (finite).
    args : tuple, optional
        Extra arguments passed to `fun`, `jac`, `hess` and `hessp`.
    method : str, optional
        ``'trust-ncg'`` (default: Steihaug-Toint truncated CG in a trust region),
        ``'trust-krylov'`` (GLTR subproblems), ``'newton-cg'`` (line-search
        truncated Newton), ``'trust-bounds'`` (projected trust-region Newton
        for bound constraints) or ``'trust-lbfgs'`` (trust region on a
        limited-memory quasi-Newton model, with or without bounds), matched
        case-insensitively; any of scipy's other names goes to scipy.  When
        `bounds` is given (as scipy switches to L-BFGS-B) the default is
        'trust-lbfgs' if products would be finite differences of a given `jac`
        (no `hess`, `hessp` or autograd), otherwise 'trust-bounds'.
    jac : callable, True, {'autograd', '2-point', '3-point'} or None
        The gradient: a callable ``jac(x, *args)``; True if `fun` returns
        ``(f, g)``; 'autograd' to differentiate `fun` (written with
        ``autograd.numpy``); finite differences of `fun`.  None: autograd when
        it can trace `fun`, otherwise forward differences with a warning.
    hess : callable, optional
        ``hess(x, *args)`` returning an array, sparse matrix or LinearOperator.
    hessp : callable or {'2-point', '3-point', 'autograd'}, optional
        ``hessp(x, p, *args) -> H p``, or how to make products from the
        gradient: forward differences (one gradient call per product, the
        gradient at x reused), central differences (two calls, more accurate),
        or exact forward-over-reverse autograd products.  With neither `hess`
        nor `hessp`: autograd products when the gradient comes from autograd,
        otherwise '2-point'.
    bounds : `scipy.optimize.Bounds` or sequence of (low, high) pairs, optional
        Bound constraints, as scipy takes them (``None`` for no bound): taken
        by 'trust-bounds' and 'trust-lbfgs', which keep every evaluation of `fun`, `jac` and of
        finite-difference products inside the box (x0 is clipped into it,
        with an `OptimizeWarning` if it was outside), and by scipy's methods.
        Another curvopt method raises a ValueError naming those that take them.
    constraints :
        Passed to scipy's methods; curvopt's methods do not take them (a
        ValueError says which methods do).
    tol : float, optional
        Sets the method's main tolerance, ``gtol`` (the gradient test, for
        'trust-bounds' the projected gradient's) of every curvopt method
        (curvopt stops on the gradient).
    callback : callable, optional
        ``callback(intermediate_result)`` (the parameter must have that name)
        or ``callback(xk)``, called after each iteration; raising
        `StopIteration` ends the run with status 99.
    options : dict, optional
        The method's options (see `curvopt._registry.trust_ncg`,
        `trust_krylov`, `trust_bounds` and `newton_cg`) and those of every
        curvopt method: ``disp``,
        ``return_all``, ``max_grad_calls`` (budget on gradient calls),
        ``hvp_eps`` (relative finite-difference factor), ``max_failures``
        (consecutive trial points where `fun` or `jac` raised or returned
        NaN/inf, each rejected with a smaller trust radius, before the run
        stops with status 3 or 7; default 10; the trust-region methods),
        ``log`` (a file path: every evaluation and iteration is written to
        an SQLite file as it completes, and running the same script again
        resumes from it, replaying logged evaluations instead of calling
        `fun`/`jac`; see `curvopt.read_log`), ``workers`` (None, an int for
        a local process pool, or a map-like callable such as
        ``executor.map``: the displaced points of a finite-difference
        gradient of `fun`, the two gradient calls of a central product
        (``hessp='3-point'``) and the products of the curvature check go
        out together; the CG iterations stay sequential; not together
        with ``log`` yet; see `curvopt._workers`).  Unknown options
        raise an `OptimizeWarning`, as in scipy.

    Returns
    -------
    OptimizeResult
        scipy's keys ``x, fun, jac, nit, nfev, njev, nhev, status, success,
        message``, plus ``n_hvp`` (Hessian-vector products),
        ``cg_iterations`` and ``n_nonfinite`` (trial points where the oracle
        failed or returned NaN/inf; each was rejected).  ``njev`` counts every
        call of the gradient, those inside finite-difference products
        included.  ``success`` is True only when the stopping test holds.
        With ``log``, ``nfev`` and ``njev`` still count the evaluations the
        algorithm used (a resumed run reports the same counts as an
        uninterrupted one), and ``n_replayed`` / ``n_fresh`` say how many of
        those calls the log answered and how many called the user's code.
        'trust-bounds' and 'trust-lbfgs' add ``pgnorm`` (the final ``||P[x - g] - x||_inf``)
        and ``active_mask`` (-1 at a lower bound, 1 at an upper bound, 0 free).
        ``hess_inv`` is a `curvopt.stats.InverseHessian` at ``x`` (a
        LinearOperator, like the ``hess_inv`` of scipy's L-BFGS-B, with
        ``todense()``): each product is a CG solve on Hessian-vector products
        of the same gradient source (central differences, or exact ones), so
        it costs nothing until used and its gradient calls are its own
        (``hess_inv.hessian.n_grad_calls``), not part of ``njev``.

    References
    ----------
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer,
    2006, Chapters 4 and 7.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import rosen, rosen_der
    >>> import curvopt
    >>> res = curvopt.minimize(rosen, np.array([-1.2, 1.0]), jac=rosen_der)
    >>> bool(res.success), np.allclose(res.x, 1.0, atol=1e-4)
    (True, True)
    """
    if method is None:
        method = "trust-ncg" if bounds is None else _default_bounded_method(fun, x0, args, jac, hess, hessp)
    spec = _registry.lookup(method)
    if spec is None:
        return _scipy_method(fun, x0, args, method, jac, hess, hessp, bounds, constraints, tol, callback, options)
    return run_method(spec, fun, x0, args, jac, hess, hessp, bounds, constraints, tol, callback, options,
                      stacklevel=2)


def _default_bounded_method(fun, x0, args, jac, hess, hessp):
    """'trust-lbfgs' where Hessian-vector products would be finite differences of a given
    gradient (one gradient call each): its quasi-Newton model needs none, and on
    benchmarks/bench_bounds.py it takes the median gradient calls of L-BFGS-B, trust-bounds
    1.8 times them.  'trust-bounds' where curvature is given (`hess`, a callable `hessp`, or
    autograd products, also the default of an autograd gradient): it then takes 0.63 times them."""
    finite_difference_products = hess is None and (hessp is None or hessp in ("2-point", "3-point"))
    autograd_gradient = isinstance(jac, str) and jac.lower() == "autograd"
    if jac is None or jac is False:
        # as `make_oracle` will decide (the answer is kept: the oracle asks again at no cost)
        args_tuple = args if isinstance(args, tuple) else (args,)
        autograd_gradient = autograd_traceable(fun, as_point(x0), args_tuple)
    return "trust-lbfgs" if finite_difference_products and not autograd_gradient else "trust-bounds"


def run_method(spec, fun, x0, args, jac, hess, hessp, bounds, constraints, tol, callback, options, *, stacklevel):
    """`minimize` with curvopt's method `spec` (a `_registry.MethodSpec`).

    `stacklevel` is the line user-facing warnings point at, counted from the
    caller of `run_method`: 1 its line, 2 the line that called it.
    """
    if not isinstance(args, tuple):
        args = (args,)
    x0 = as_point(x0)
    _check_unsupported(spec, bounds, constraints)
    options = _checked_options(spec, tol, options, stacklevel=stacklevel + 2)
    common = {name: options.pop(name, default) for name, default in _registry.COMMON_OPTIONS.items()}

    body = spec.make_body(x0.size, **options)  # validates the option values
    if spec.supports_bounds:
        if bounds is None:
            lower, upper = np.full(x0.size, -np.inf), np.full(x0.size, np.inf)
        else:
            lower, upper = as_bounds(bounds, x0.size)
        x0 = clip_start(x0, lower, upper, stacklevel=stacklevel + 1)
        body = body.with_bounds(lower, upper)  # it makes finite-difference products stay in the box
    compiled = spec.compiled and common["workers"] is None  # workers send evaluations out from Python
    if compiled and _compiled_path_applies(fun, jac, hess, hessp, callback, options, common, args):
        from .trust_region._compiled import compiled_trust_ncg

        solver_options = {k: v for k, v in options.items() if k not in ("compiled", "verify", "deflate")}
        res = compiled_trust_ncg(fun, jac, hessp, x0, args, hvp_eps=common["hvp_eps"],
                                 max_grad_calls=common["max_grad_calls"], **solver_options)
        oracle, hessp = Oracle(fun, jac, args), hessp if callable(hessp) else None
    else:
        box = (lower, upper) if spec.supports_bounds else None
        res, oracle = _run_python(spec, body, fun, x0, args, jac, hess, hessp, callback, common, box,
                                  stacklevel=stacklevel + 1)
    box = (lower, upper) if spec.supports_bounds and bounds is not None else None
    res["hess_inv"] = result_hess_inv(res.x, oracle, fun, args, hess, hessp, common["hvp_eps"], bounds=box)
    return res


def _run_python(spec, body, fun, x0, args, jac, hess, hessp, callback, common, box, stacklevel):
    """The run on curvopt's Python loop (every method, every option); returns the result and its oracle.
    `box` is ``(lower, upper)`` for methods that take bounds, else None."""
    oracle = make_oracle(fun, x0, jac, args, common["max_grad_calls"], stacklevel=stacklevel + 2)
    if box is not None:
        oracle = box_oracle(oracle, *box)  # finite-difference gradients stay in the box
    max_failures = _max_failures(common["max_failures"])
    if common["log"] is not None and common["workers"] not in (None, 1):
        raise ValueError(LOG_AND_WORKERS)  # before the log file is made
    oracle.log = open_log(common["log"], method=spec.name, x0=x0, fun=fun, jac_mode=oracle.jac_mode, args=args,
                          options={k: v for k, v in common.items() if k != "log"})
    try:
        backend = make_backend(oracle, fun, args, x0, hess, hessp, common["hvp_eps"])
        log_products(backend, oracle.log)
        with use_workers(common["workers"], oracle, backend):  # independent evaluations go out together
            f0, g0 = check_initial_point(oracle, x0)
            run = Run(oracle, backend, x0, f0, g0, callback=callback, disp=common["disp"],
                      return_all=common["return_all"], columns=spec.columns)
            run.max_failures = max_failures
            return execute(body, run), oracle
    finally:
        if oracle.log is not None:
            oracle.log.close()
            oracle.log = None


def _max_failures(value):
    if value is None:
        return DEFAULT_MAX_FAILURES
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"option `max_failures` must be an integer >= 0 (consecutive failed trial points "
                         f"before the run stops); got {value!r}")
    return int(value)


def _compiled_path_applies(fun, jac, hess, hessp, callback, options, common, args):
    """Whether the whole run can go to the numba-compiled loop (jitted `fun` and `jac`)."""
    requested = options.get("compiled", "auto")
    if requested not in ("auto", True, False):
        raise ValueError(f"option `compiled` must be 'auto', True or False; got {requested!r}")
    # the log and the failure limit live in the Python loop's oracle and run
    python_only = common.get("log") is not None or common.get("max_failures") is not None
    if requested is False or options.get("verify") is True or python_only or not (
        is_numba_dispatcher(fun) and is_numba_dispatcher(jac)
    ):
        possible = False
    else:
        from .trust_region._compiled import can_compile

        possible = can_compile(fun, jac, hess, hessp, callback, {**options, **common}, args)
    if requested is True and not possible:
        raise ValueError(
            "option compiled=True needs numba-jitted `fun` and `jac`, `hess` None, `hessp` None, jitted, "
            "'2-point' or '3-point', no callback, disp, return_all, log, max_failures or verify=True, and `args` "
            "numba can type"
        )
    return possible


def _check_unsupported(spec, bounds, constraints):
    if bounds is not None and not spec.supports_bounds:
        which = [m for m, s in _registry.METHODS.items() if s.supports_bounds]
        raise ValueError(
            f"method {spec.name!r} does not take `bounds`; bounds are handled by "
            + (", ".join(map(repr, which)) + " and by " if which else "")
            + "scipy's 'L-BFGS-B', 'TNC', 'SLSQP', 'Powell', 'Nelder-Mead' and 'trust-constr'"
        )
    # scipy's default is an empty tuple; a single constraint may be a dict or a constraint object
    given = len(constraints) > 0 if isinstance(constraints, (list, tuple)) else constraints is not None
    if given:
        raise ValueError(
            f"method {spec.name!r} does not take `constraints`; use scipy's 'SLSQP', 'COBYLA', "
            "'COBYQA' or 'trust-constr'"
        )


def _checked_options(spec, tol, options, stacklevel):
    options = {} if options is None else dict(options)
    if tol is not None:
        options.setdefault(spec.tol_option, tol)
    unknown = sorted(set(options) - spec.options)
    if unknown:
        warnings.warn(
            f"Unknown solver options for {spec.name!r}: {', '.join(unknown)}",
            scipy.optimize.OptimizeWarning,
            stacklevel=stacklevel,
        )
        for name in unknown:
            del options[name]
    return options


def _scipy_method(fun, x0, args, method, jac, hess, hessp, bounds, constraints, tol, callback, options):
    """scipy's method, unchanged, except that curvopt's 'autograd' strings become callables."""
    if isinstance(jac, str) and jac.lower() == "autograd":
        from autograd import grad

        args_tuple = args if isinstance(args, tuple) else (args,)
        jac = grad(lambda x, *a: fun(x, *a)) if args_tuple else grad(fun)
    if isinstance(hessp, str) and hessp.lower() == "autograd":
        from autograd import grad, make_jvp

        hessp = lambda x, p, *a: make_jvp(grad(lambda y: fun(y, *a)))(x)(p)[1]  # noqa: E731
    res = scipy.optimize.minimize(fun, x0, args=args, method=method, jac=jac, hess=hess, hessp=hessp,
                                  bounds=bounds, constraints=constraints, tol=tol, callback=callback,
                                  options=options)
    return OptimizeResult(res)
