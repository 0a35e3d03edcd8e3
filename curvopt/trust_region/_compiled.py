"""trust-ncg compiled whole: the outer loop, Steihaug-Toint CG and the
finite-difference products in numba nopython mode, for jitted oracles.

When the user's `fun` and `jac` are numba-jitted, the Python loop of
`curvopt.trust_region._loop` spends nearly all its time in the interpreter
(a few microseconds of Python per gradient call against a gradient that may
take less than one).  This module runs the same algorithm, operation for
operation, in one compiled function that calls the user's compiled code
directly, so that small and medium problems run 5-50 times faster than
scipy's trust-ncg with an exact ``hessp``.

How the user's functions reach the compiled loop
------------------------------------------------
A jitted function that receives another jitted function (a numba
``Dispatcher``) as an argument is specialised on that dispatcher's identity,
so its on-disk cache never hits in a new process: every run would pay the
whole compilation (seconds).  Declaring the arguments as first-class
function types (``numba.types.FunctionType``) fixes the caching, but then
every call unboxes each function from Python, which costs about 20 us per
function per call -- as much as a whole two-dimensional solve.

So the loop receives plain integers instead: the addresses of the user's
compiled entry points (numba calling convention, so that exceptions
propagate, plus the C wrapper), looked up once per function and signature in
Python and remembered.  Inside the loop a small intrinsic turns the integers
back into a ``FunctionType`` value of the right signature.  The loop's
argument types are then ordinary numba types -- integers, floats, arrays and
the type of the ``args`` tuple -- so it is compiled once per ``args``
signature, cached on disk (``cache=True``), and a call costs a couple of
microseconds of dispatch.

The user's function is called directly when its compiled overload for
``(float64[::1], *args)`` already has exactly the return type the loop
expects (``float64`` for `fun`, a C-contiguous float64 vector for `jac` and
`hessp`).  Otherwise -- a float32 or integer value, a gradient of another
dtype or layout, a dispatcher compiled only for other argument types -- a
tiny adapter is compiled around it (once per process and function) that
converts the result.

Exactness with the Python path
------------------------------
The loop mirrors `curvopt.trust_region._loop.trust_region_body` with
`curvopt.trust_region.steihaug.solve` and the products of
`curvopt.hvp.backends`: the same formulas in the same order of floating-point
operations, ``np.dot`` (BLAS) for every inner product and
``sqrt(dot(v, v))`` for every norm (what ``np.linalg.norm`` computes for a
vector), and the same counting rules, so both paths produce the same
iterates and the same counts.  Keep the two in step when either changes.
"""

from __future__ import annotations

import math
import weakref

import numba
import numpy as np
from llvmlite import ir  # noqa: F401  (numba's code generator; imported by the intrinsics below)
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import NumbaError
from numba.core.registry import CPUDispatcher
from numba.extending import intrinsic, overload

from .._oracle import Oracle, check_initial_point
from .._result import OptimizeResult, Status
from .._validation import as_point
from ..hvp._kernels import CBRT_EPS, SQRT_EPS, central_difference, displaced, fd_step, forward_difference

__all__ = ["is_jitted", "can_compile", "compiled_trust_ncg"]

_EPS = float(np.finfo(float).eps)
_F_RESOLUTION = 100.0 * _EPS  # as in _loop: resolution of f relative to max(1, |f|)

# Outcome codes of the compiled loop.  Local integers rather than `Status`
# values: a cached loop must not depend on constants defined in another file
# (numba's cache only checks this file's time stamp).
_SUCCESS = 0
_MAXITER = 1
_PRECISION_LOSS = 2
_NAN_RESULT = 3
_TRUST_RADIUS = 4
_EVAL_BUDGET = 5
_ORACLE_ERROR = 6  # the gradient raised inside a finite-difference product
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

# Product modes.
_FORWARD = 0
_CENTRAL = 1
_USER_HESSP = 2

# Steihaug stop reasons (the values of steihaug.StopReason).
_CONVERGED = 0
_BOUNDARY = 1
_NEGATIVE_CURVATURE = 2
_CG_MAXITER = 3
_NONFINITE = 4

# Slots of the counter array.
_NFEV = 0
_NJEV = 1
_NHVP = 2

_VEC = types.Array(types.float64, 1, "C")


# ---------------------------------------------------------------------------
# Function values from addresses
# ---------------------------------------------------------------------------

def _value_signature(argtypes):
    return types.float64(_VEC, *argtypes)


def _gradient_signature(argtypes):
    return _VEC(_VEC, *argtypes)


def _hessp_signature(argtypes):
    return _VEC(_VEC, _VEC, *argtypes)


def _function_from_addresses(signature, c_addr, jit_addr):
    """Typing and code generation of an intrinsic that builds a first-class
    function value of `signature` from its two entry-point addresses."""
    fntype = types.FunctionType(signature)

    def codegen(context, builder, sig, llargs):
        fn = cgutils.create_struct_proxy(fntype)(context, builder)
        voidptr = context.get_value_type(types.voidptr)
        fn.c_addr = builder.inttoptr(llargs[0], voidptr)
        fn.jit_addr = builder.inttoptr(llargs[1], voidptr)
        # py_addr is read only to box the value back into Python, which the loop never does.
        fn.py_addr = context.get_constant_null(types.voidptr)
        return fn._getvalue()

    return fntype(types.intp, types.intp, types.Tuple(()) if False else sig_args_placeholder), codegen  # replaced below


# The helper above needs the `args` type in its signature; the three intrinsics
# below spell it out, one per kind of function.

def _build(signature_of, typingctx, c_addr, jit_addr, args):
    fntype = types.FunctionType(signature_of(tuple(args.types)))

    def codegen(context, builder, sig, llargs):
        fn = cgutils.create_struct_proxy(fntype)(context, builder)
        voidptr = context.get_value_type(types.voidptr)
        fn.c_addr = builder.inttoptr(llargs[0], voidptr)
        fn.jit_addr = builder.inttoptr(llargs[1], voidptr)
        # py_addr is only read to box the value back into Python, which the loop never does.
        fn.py_addr = context.get_constant_null(types.voidptr)
        return fn._getvalue()

    return fntype(c_addr, jit_addr, args), codegen
