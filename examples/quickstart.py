"""curvopt quickstart: second-order optimization from a gradient alone.

Minimizes the chained Rosenbrock function in 100 dimensions given only its
gradient: curvopt's trust-region Newton-CG makes Hessian-vector products from
finite differences of the gradient (every one counted as a gradient call), and
its trust-region quasi-Newton method (trust-lbfgs) needs the fewest gradient
calls of all.
Side by side, in the same run: scipy's methods that also need only a gradient
(L-BFGS-B, Newton-CG) and scipy's trust-ncg, which needs an exact Hessian-vector
product supplied by hand.

Run:  python examples/quickstart.py
"""

import time

import numpy as np
import scipy.optimize
from scipy.optimize import rosen, rosen_der, rosen_hess_prod

import curvopt


def timed(minimizer, *args, **kwargs):
    start = time.perf_counter()
    result = minimizer(*args, **kwargs)
    return result, time.perf_counter() - start


def main(n=100):
    x0 = np.tile([-1.2, 1.0], n // 2)
    gtol = 1e-5
    runs = [
        ("curvopt trust-ncg (gradient only)", curvopt.minimize,
         dict(jac=rosen_der, method="trust-ncg", options={"gtol": gtol})),
        ("curvopt trust-lbfgs (gradient only)", curvopt.minimize,
         dict(jac=rosen_der, method="trust-lbfgs", options={"gtol": gtol})),
        ("curvopt newton-cg (gradient only)", curvopt.minimize,
         dict(jac=rosen_der, method="newton-cg", options={"gtol": gtol})),
        ("scipy L-BFGS-B (gradient only)", scipy.optimize.minimize,
         dict(jac=rosen_der, method="L-BFGS-B", options={"gtol": gtol, "maxiter": 10_000})),
        ("scipy Newton-CG (gradient only)", scipy.optimize.minimize,
         dict(jac=rosen_der, method="Newton-CG")),
        ("scipy trust-ncg (exact hessp by hand)", scipy.optimize.minimize,
         dict(jac=rosen_der, hessp=rosen_hess_prod, method="trust-ncg", options={"gtol": gtol})),
    ]
    # curvopt's numba kernels compile on first use (seconds, once; then cached on disk): not a cost per run
    _, compile_seconds = timed(curvopt.minimize, rosen, x0[:2], jac=rosen_der)
    print(f"curvopt's first call (numba kernels compiled or loaded from the disk cache): {compile_seconds:.2f} s")
    print(f"Chained Rosenbrock, n = {n}, x0 = (-1.2, 1, ...), minimum f = 0 at x = (1, ..., 1)\n")
    header = f"{'method':<40} {'success':>7} {'f':>10} {'||g||':>9} {'|x-1|max':>9} {'nit':>6} {'grad calls':>10} {'time [s]':>9}"
    print(header)
    print("-" * len(header))
    rows = {}
    for label, minimizer, kwargs in runs:
        res, seconds = timed(minimizer, rosen, x0, **kwargs)
        gnorm = np.linalg.norm(rosen_der(res.x))
        err = np.max(np.abs(res.x - 1.0))
        print(f"{label:<40} {str(bool(res.success)):>7} {res.fun:>10.2e} {gnorm:>9.1e} {err:>9.1e} "
              f"{res.nit:>6d} {res.njev:>10d} {seconds:>9.3f}")
        rows[label] = res
    print("\ngrad calls: every call of rosen_der, those inside finite-difference Hessian-vector products included;"
          "\nscipy trust-ncg also made exact products with the hand-written rosen_hess_prod, not counted there.")
    return rows


if __name__ == "__main__":
    main()
