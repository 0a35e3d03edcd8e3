"""Wall time of a vibrational analysis with a slow calculator: serial vs ``workers=2``, side by side.

The calculator is ASE's LennardJones made CPU-bound: each force call also
spends `cost` seconds of numpy work (a stand-in for an electronic-structure
code), so that the force calls dominate, as they do in practice.  Target
(issue 7): with 2 workers on a 2-core machine the analysis takes at most
0.6x the serial wall time, with the same force calls and the same result.
Rows: the dense path (all modes of LJ38, 216 force calls in one block),
method='full' (LJ13), and Lanczos for the 6 lowest modes of LJ38 (the two
force calls of each central product together); and, outside the target,
`minimize` with central-difference gradients of a slow `fun` (calls in the
count columns are ``nfev``).  The machine's load average
is printed: other work on the cores makes the parallel ratio meaningless.
The serial and parallel runs alternate, best of `repeat` each; the pool's
start-up is inside the parallel time.

Run:  python benchmarks/bench_workers.py [--quick] [--cost SECONDS]
"""

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from ase.calculators.lj import LennardJones
from scipy.optimize import rosen

import curvopt

from curvopt.chem import vibrations
from curvopt.chem.systems import lj_cluster


def burn(seconds):
    """Busy numpy work for about `seconds` of one core (not sleep: it must compete for the CPU)."""
    end = time.perf_counter() + seconds
    a = np.ones((64, 64))
    while time.perf_counter() < end:
        a = np.tanh(a @ a * 1e-3)


class SlowLJ(LennardJones):
    """LennardJones whose every calculation also costs `cost` seconds of CPU (module level: it pickles)."""

    def __init__(self, cost=0.02, **kwargs):
        super().__init__(**kwargs)
        self.cost = cost

    def calculate(self, *args, **kwargs):
        burn(self.cost)
        super().calculate(*args, **kwargs)


def slow_rosen(x, cost):
    """scipy's Rosenbrock function at `cost` seconds of CPU per call."""
    burn(cost)
    return rosen(x)


def slow_cluster(n, cost):
    atoms, _ = lj_cluster(n)
    atoms.calc = SlowLJ(cost=cost, epsilon=1.0, sigma=1.0, rc=10.0)
    return atoms


def timed(atoms, kw, workers, repeat):
    best, res = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = vibrations(atoms, workers=workers, **kw)
        best = min(best, time.perf_counter() - t0)
    return best, res


def main(quick=False, cost=0.02, repeat=2):
    cases = [
        ("LJ38 all modes (dense)", 38, {}),
        ("LJ13 method='full'", 13, {"method": "full"}),
        ("LJ38 6 lowest (lanczos)", 38, {"k": 6}),
    ]
    if quick:
        cases = cases[1:2]
    print(f"force call cost {cost * 1e3:.0f} ms of CPU; {os.cpu_count()} cores; best of {repeat}; "
          f"load average before {os.getloadavg()[0]:.2f}")
    header = f"{'case':26s} {'calls 1w':>8s} {'calls 2w':>8s} {'serial s':>9s} {'2 workers s':>11s} {'ratio':>6s} {'target':>6s}  same result"
    print(header)
    print("-" * len(header))
    rows = []
    for label, n, kw in cases:
        atoms = slow_cluster(n, cost)
        t1, r1, t2, r2 = np.inf, None, np.inf, None
        for _ in range(repeat):  # alternate, so that drifts of the machine hit both alike
            a, r1 = timed(atoms, kw, None, 1)
            b, r2 = timed(atoms, kw, 2, 1)
            t1, t2 = min(t1, a), min(t2, b)
        same = np.array_equal(r1.eigenvalues, r2.eigenvalues)
        if not same:  # block Lanczos (more workers than calls per product) agrees to the eigensolver's tol
            same = f"max rel diff {np.max(np.abs(r1.eigenvalues - r2.eigenvalues) / np.abs(r1.eigenvalues)):.1e}"
        ratio = t2 / t1
        rows.append((label, r1.n_force_calls, r2.n_force_calls, t1, t2, ratio))
        print(f"{label:26s} {r1.n_force_calls:8d} {r2.n_force_calls:8d} {t1:9.2f} {t2:11.2f} {ratio:6.2f} {'0.60':>6s}  {same}")
    # minimize: the 2n displaced values of each central-difference gradient of `fun` go out together
    x0 = np.full(8 if quick else 20, 0.8)  # near the minimizer: few iterations, gradients dominate
    best = {}
    for _ in range(repeat):
        for w in (None, 2):
            t0 = time.perf_counter()
            res = curvopt.minimize(slow_rosen, x0, args=(cost / 4,), jac="3-point", options={"workers": w})
            t = time.perf_counter() - t0
            if w not in best or t < best[w][0]:
                best[w] = (t, res)
    (t1, r1), (t2, r2) = best[None], best[2]
    same = str(np.array_equal(r1.x, r2.x))
    label = f"minimize jac='3-point' n={x0.size}"
    print(f"{label:26s} {r1.nfev:8d} {r2.nfev:8d} {t1:9.2f} {t2:11.2f} {t2 / t1:6.2f} {'-':>6s}  {same}")
    rows.append((label, r1.nfev, r2.nfev, t1, t2, t2 / t1))
    print(f"load average after {os.getloadavg()[0]:.2f}")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cost", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    main(args.quick, args.cost, args.repeat)
