"""Test problems with known minima and derivative checks for curvopt.

`problems` and `get_problem` give the collection (the Moré-Garbow-Hillstrom
set, chained Rosenbrock, ill-conditioned quadratics), each as a `Problem` with
exact gradient, Hessian-vector product and (for n <= 2000) Hessian, some with
numba versions.  `check_grad` and `check_hvp` check user derivatives by the
decay of Taylor remainders.

Importing this package is cheap: problems are built, and autograd and numba
imported, only on request.
"""

from .counting import Counted
from .derivatives import TaylorCheck, check_grad, check_hvp
from .problems import (
    Problem,
    broyden_banded,
    broyden_tridiagonal,
    brown_almost_linear,
    chained_rosenbrock,
    discrete_boundary_value,
    discrete_integral_equation,
    extended_powell,
    extended_rosenbrock,
    get_problem,
    ill_conditioned_quadratic,
    linear_full_rank,
    penalty_1,
    penalty_2,
    problem_names,
    problems,
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
    "TaylorCheck",
    "check_grad",
    "check_hvp",
    "Counted",
]
