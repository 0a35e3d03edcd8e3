"""Bound-constrained problems: curvopt's bounded methods against scipy's L-BFGS-B.

Problems of the collection (`curvopt.testing`) in boxes that cut off their unconstrained minimizers,
so that some bounds are active at the solution (our own choices: published bounded versions of the
Moré-Garbow-Hillstrom set exist, e.g. in the test sets of PORT, but their bounds are not
reproduced here). Both solvers start from the standard x0 clipped into the box, get the same
gradient callable, and stop on ||P[x - g] - x||_inf <= 1e-5 (L-BFGS-B's default pgtol; L-BFGS-B
also stops on its relative-reduction test, factr = 1e7). curvopt's Hessian-vector products are
forward differences of the gradient, each one gradient call, all counted in its njev. Two curvopt
methods, each run once from the same start with the same stopping test: 'trust-bounds' (TRON-style
projected trust-region Newton on Hessian-vector products) and 'trust-lbfgs' with bounds (the same
projected step on a limited-memory quasi-Newton model: L-BFGS-B's generalized Cauchy point, CG on
the free variables, projected search; no product, so no gradient call but at trial points; the
default of `curvopt.minimize` given `bounds` and a gradient).

Columns: problem and box, n, active bounds at trust-lbfgs's solution, gradient calls (every call of
the user's gradient, counted by a wrapper) of L-BFGS-B, trust-lbfgs, trust-bounds, and for
information trust-bounds with the problem's exact Hessian-vector product instead of differences;
function-value calls of trust-lbfgs (a rejected trial point costs a value, not a gradient; L-BFGS-B
evaluates both together); f of L-BFGS-B and trust-lbfgs, ||proj g||_inf of both, success of both, and
whether both reached the same minimum. The summary gives the median ratios method / L-BFGS-B of
gradient calls, and lists the problems where the minima differ.

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_bounds.py [--quick]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import scipy.optimize

import curvopt
from curvopt.testing import Counted, get_problem
from curvopt.trust_region.bounded import projected_gradient

GTOL = 1e-5


def box(n, low, high):
    return np.full(n, float(low)), np.full(n, float(high))


def alternating(n, first, second):
    """(low, high) pairs alternating between two intervals."""
    lower = np.array([first[0] if i % 2 == 0 else second[0] for i in range(n)], dtype=float)
    upper = np.array([first[1] if i % 2 == 0 else second[1] for i in range(n)], dtype=float)
    return lower, upper


# (problem name, n or None, lower, upper): the bounds are functions of n
CASES = [
    ("rosenbrock", None, lambda n: (np.array([-2.0, -2.0]), np.array([0.5, 2.0]))),
    ("rosenbrock", None, lambda n: box(n, 1.2, 2.0)),
    ("beale", None, lambda n: (np.array([0.0, 0.0]), np.array([2.5, 1.0]))),
    ("helical_valley", None, lambda n: (np.array([-10.0, -1.0, -1.0]), np.array([0.8, 1.0, 1.0]))),
    ("box_3d", None, lambda n: (np.array([0.0, 5.0, 0.0]), np.array([2.0, 9.5, 20.0]))),
    ("powell_singular", None, lambda n: box(n, 0.1, 100.0)),
    ("wood", None, lambda n: box(n, -3.0, 0.8)),
    ("bard", None, lambda n: (np.array([0.1, 0.0, 0.0]), np.array([10.0, 10.0, 10.0]))),
    ("kowalik_osborne", None, lambda n: (np.zeros(4), np.array([0.18, 1.0, 1.0, 1.0]))),
    ("osborne_1", None, lambda n: (np.array([0.0, 0.0, -5.0, 0.0, 0.0]), np.array([0.35, 5.0, 0.0, 1.0, 1.0]))),
    ("penalty_1", 10, lambda n: box(n, 0.2, 1.0)),
    ("variably_dimensioned", 10, lambda n: box(n, 0.0, 0.9)),
    ("brown_almost_linear", 10, lambda n: box(n, 0.0, 0.9)),
    ("trigonometric", 10, lambda n: box(n, 0.02, 1.0)),
    ("linear_full_rank", 10, lambda n: box(n, -0.5, 0.5)),
    ("discrete_boundary_value", 10, lambda n: box(n, -0.1, 0.0)),
    ("extended_rosenbrock", 10, lambda n: alternating(n, (-1.5, 0.8), (-1.0, 2.0))),
    ("chained_rosenbrock", 10, lambda n: box(n, 1.2, 2.0)),
    ("chained_rosenbrock", 100, lambda n: box(n, -1.5, 0.8)),
    ("chained_rosenbrock", 100, lambda n: box(n, 1.2, 2.0)),
    ("ill_conditioned_quadratic", 100, lambda n: box(n, 0.0, 0.5)),
    ("broyden_tridiagonal", 100, lambda n: box(n, -0.6, 0.0)),
    ("chained_rosenbrock", 1000, lambda n: box(n, -1.5, 0.8)),
    ("chained_rosenbrock", 1000, lambda n: box(n, 1.2, 2.0)),
]


def cases(max_n=None):
    for name, n, make_box in CASES:
        problem = get_problem(name, n)
        if max_n is not None and problem.n > max_n:
            continue
        lower, upper = make_box(problem.n)
        yield problem, lower, upper


def run_lbfgsb(problem, lower, upper, x0):
    jac = Counted(problem.jac)
    res = scipy.optimize.minimize(problem.fun, x0, jac=jac, method="L-BFGS-B",
                                  bounds=scipy.optimize.Bounds(lower, upper),
                                  options={"gtol": GTOL, "maxiter": 20_000, "maxfun": 40_000})
    return res, jac.calls, None


def run_curvopt(problem, lower, upper, x0, hessp=None, method=None):
    jac = Counted(problem.jac)
    res = curvopt.minimize(problem.fun, x0, jac=jac, hessp=hessp, bounds=scipy.optimize.Bounds(lower, upper),
                           method=method, options={"gtol": GTOL})
    return res, jac.calls, None


def pgnorm(problem, x, lower, upper):
    return float(np.max(np.abs(projected_gradient(x, problem.jac(x), lower, upper))))


def compare(fa, fb):
    """'same' when the minima agree to 1e-7 relative, else which solver found the lower f."""
    if abs(fa - fb) <= 1e-7 * max(1.0, abs(fa)):
        return "same"
    return "ours" if fb < fa else "theirs"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only problems with n <= 100")
    args = parser.parse_args(argv)
    warm = get_problem("rosenbrock")  # compile numba kernels and import everything before timing
    run_curvopt(warm, np.full(2, -2.0), np.full(2, 0.5), np.zeros(2))
    run_lbfgsb(warm, np.full(2, -2.0), np.full(2, 0.5), np.zeros(2))
    head = (f"{'problem [box]':34} {'n':>5} {'act':>4} {'L-BFGS-B':>8} {'tr-lbfgs':>8} {'tr-bnds':>8} "
            f"{'(exact)':>8} {'nfev':>8} {'f L-BFGS-B':>13} {'f tr-lbfgs':>13} {'pg L-B-B':>8} {'pg ours':>8} "
            f"{'success':>7} {'lower f':>7}")
    print("gradient calls (njev) of L-BFGS-B, trust-lbfgs, trust-bounds (FD products) and trust-bounds (exact "
          "products); nfev of trust-lbfgs")
    print(head)
    print("-" * len(head))
    ratios, newton_ratios, exact_ratios, rows, differ = [], [], [], [], []
    for problem, lower, upper in cases(100 if args.quick else None):
        x0 = np.clip(problem.x0, lower, upper)
        ref, ref_calls, _ = run_lbfgsb(problem, lower, upper, x0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res, calls, _ = run_curvopt(problem, lower, upper, x0, method="trust-lbfgs")
            newton, newton_calls, _ = run_curvopt(problem, lower, upper, x0, method="trust-bounds")
            exact, exact_calls, _ = run_curvopt(problem, lower, upper, x0, hessp=problem.hessp,
                                                method="trust-bounds")
        assert calls == res.njev and newton_calls == newton.njev, (calls, res.njev, newton_calls, newton.njev)
        ratios.append(calls / ref_calls)
        newton_ratios.append(newton_calls / ref_calls)
        exact_ratios.append(exact_calls / ref_calls)
        rows.append((problem, res, ref))
        active = int(np.count_nonzero(res.active_mask))
        label = f"{problem.name} [{lower.min():g}, {upper.max():g}]"
        verdict = compare(ref.fun, res.fun)
        if verdict != "same":
            differ.append(f"{label} ({verdict}: f {ref.fun:.6e} L-BFGS-B, {res.fun:.6e} trust-lbfgs)")
        print(f"{label:34} {problem.n:>5} {active:>4} {ref_calls:>8} {calls:>8} {newton_calls:>8} {exact_calls:>8} "
              f"{res.nfev:>8} {ref.fun:>13.6e} {res.fun:>13.6e} {pgnorm(problem, ref.x, lower, upper):>8.1e} "
              f"{res.pgnorm:>8.1e} {('y' if ref.success else 'n') + '/' + ('y' if res.success else 'n'):>7} "
              f"{verdict:>7}", flush=True)
    print("-" * len(head))
    for name, values in (("trust-lbfgs", ratios), ("trust-bounds", newton_ratios),
                         ("trust-bounds, exact products", exact_ratios)):
        values = np.array(values)
        print(f"median gradient-call ratio {name} / L-BFGS-B: {np.median(values):.2f} "
              f"(min {values.min():.2f}, max {values.max():.2f}; {np.sum(values <= 1.0)} of {values.size} at or "
              "below 1)")
    print("minima that differ from L-BFGS-B's: " + ("; ".join(differ) if differ else "none"))
    print("'lower f': same (agree to 1e-7), ours or theirs (which found the lower minimum: a different local "
          "minimum, or L-BFGS-B stopping early on its f-reduction test)")
    return rows


if __name__ == "__main__":
    main()
