"""The collection of unconstrained test problems with known minima.

Use `problems` for the whole collection at its default dimensions (optionally
filtered by dimension and tags), `get_problem` for one problem by name, or the
builders (`chained_rosenbrock`, `extended_rosenbrock`, `extended_powell`,
`ill_conditioned_quadratic`, ...) for any dimension.

The collection holds the 35 test functions of Moré, Garbow & Hillstrom [1]_
except the linear rank-1 problems and Chebyquad (whose global minima are not
known for every n), plus the chained Rosenbrock function of
`scipy.optimize.rosen` and ill-conditioned diagonal quadratics.  Problems are
built on request: importing this module builds nothing and imports neither
autograd nor numba.

References
----------
.. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
   optimization software", ACM Trans. Math. Software 7(1):17-41, 1981.
"""

from __future__ import annotations

import re

from ._problem import Problem
from ._scalable import (
    broyden_banded,
    broyden_tridiagonal,
    brown_almost_linear,
    chained_rosenbrock,
    discrete_boundary_value,
    discrete_integral_equation,
    extended_powell,
    extended_rosenbrock,
    ill_conditioned_quadratic,
    linear_full_rank,
    penalty_1,
    penalty_2,
    trigonometric,
    variably_dimensioned,
    watson,
)

__all__ = [
    "Problem",
    "problems",
    "get_problem",
    "problem_names",
    "chained_rosenbrock",
    "extended_rosenbrock",
    "extended_powell",
    "ill_conditioned_quadratic",
    "broyden_tridiagonal",
    "broyden_banded",
    "discrete_boundary_value",
    "discrete_integral_equation",
    "variably_dimensioned",
    "trigonometric",
    "brown_almost_linear",
    "penalty_1",
    "penalty_2",
    "watson",
    "linear_full_rank",
]


def _registries():
    from ._mgh import FIXED_BUILDERS
    from ._scalable import SCALABLE_BUILDERS

    return FIXED_BUILDERS, SCALABLE_BUILDERS


def problem_names():
    """Names accepted by `get_problem`: fixed-dimension names and scalable base names.

    Returns
    -------
    fixed, scalable : tuple of str
    """
    fixed, scalable = _registries()
    return tuple(fixed), tuple(scalable)


def problems(max_n=None, tags=None):
    """The whole collection at its default dimensions, optionally filtered.

    Parameters
    ----------
    max_n : int, optional
        Keep only problems with ``n <= max_n``.
    tags : str or iterable of str, optional
        Keep only problems carrying every one of these tags (see `Problem.tags`).

    Returns
    -------
    list of Problem
        New `Problem` objects, fixed-dimension MGH problems first.

    Examples
    --------
    >>> from curvopt.testing import problems
    >>> small_least_squares = problems(max_n=20, tags="least-squares")
    """
    fixed, scalable = _registries()
    if isinstance(tags, str):
        tags = {tags}
    wanted = frozenset(tags or ())
    out = []
    candidates = [(builder, None) for builder in fixed.values()]
    for builder, dims in scalable.values():
        candidates.extend((builder, n) for n in dims)
    for builder, n in candidates:
        if max_n is not None and n is not None and n > max_n:
            continue  # skip without building
        problem = builder() if n is None else builder(n)
        if max_n is not None and problem.n > max_n:
            continue
        if not wanted <= problem.tags:
            continue
        out.append(problem)
    return out


_SIZED_NAME = re.compile(r"^(?P<base>[a-z0-9_]+?)_(?P<n>[0-9]+)$")


def get_problem(name, n=None):
    """One problem by name.

    Parameters
    ----------
    name : str
        A fixed-dimension name (``"rosenbrock"``, ``"meyer"``, ...), a scalable
        base name (``"chained_rosenbrock"``) or a sized name as found in
        `Problem.name` (``"chained_rosenbrock_1000"``).  Problems built with a
        non-default parameter (``ill_conditioned_quadratic(n, cond)``,
        ``linear_full_rank(n, m)``) are made by calling their builder.
    n : int, optional
        Dimension for a scalable base name (default: its first default
        dimension).  For fixed-dimension problems it must be None or equal to
        the problem's dimension.

    Returns
    -------
    Problem

    Raises
    ------
    ValueError
        For an unknown name or an unsupported dimension.
    """
    fixed, scalable = _registries()
    if name in fixed:
        problem = fixed[name]()
        if n is not None and n != problem.n:
            raise ValueError(f"{name!r} has fixed dimension {problem.n}, got n={n}")
        return problem
    if name in scalable:
        builder, dims = scalable[name]
        return builder(dims[0] if n is None else n)
    match = _SIZED_NAME.match(name)
    if match and match["base"] in scalable:
        size = int(match["n"])
        if n is not None and n != size:
            raise ValueError(f"{name!r} names dimension {size}, got n={n}")
        return scalable[match["base"]][0](size)
    raise ValueError(f"unknown problem {name!r}; known: {', '.join(list(fixed) + list(scalable))}")
