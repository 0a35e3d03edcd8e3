"""What the evaluation log (option `log`) costs per call, and what a resume saves.

For each problem: wall time of an unlogged run, of a logged run (one SQLite
transaction per evaluation, WAL mode), and of the rerun that replays the log;
the overhead per logged evaluation in microseconds; and the user calls each run
made.  The log pays off where one evaluation costs more than the overhead
(milliseconds and up); the replay is the cost of a resume.

    OMP_NUM_THREADS=1 python benchmarks/bench_log.py
"""

import os
import tempfile
import time

import numpy as np
from scipy.optimize import rosen, rosen_der

import curvopt
from curvopt.testing import Counted


def timed(fun, jac, x0, method, log):
    f, g = Counted(fun), Counted(jac)
    start = time.perf_counter()
    res = curvopt.minimize(f, x0, jac=g, method=method, options={} if log is None else {"log": log})
    return time.perf_counter() - start, res, f.calls + g.calls


def main():
    print(f"{'problem':<22} {'method':<12} {'calls':>6} {'plain s':>8} {'logged s':>9} {'replay s':>9} "
          f"{'us/call':>8} {'fresh':>6} {'replayed':>9} {'same x':>6}")
    for n in (20, 200):
        x0 = np.tile([-1.2, 1.0], n // 2)
        for method in ("trust-ncg", "trust-lbfgs"):
            timed(rosen, rosen_der, x0, method, None)  # warm up
            with tempfile.TemporaryDirectory() as tmp:
                log = os.path.join(tmp, "run.sqlite")
                t_plain, plain, calls = timed(rosen, rosen_der, x0, method, None)
                t_log, logged, fresh_calls = timed(rosen, rosen_der, x0, method, log)
                t_replay, replay, replay_calls = timed(rosen, rosen_der, x0, method, log)
            per_call = (t_log - t_plain) / max(logged.n_fresh, 1) * 1e6
            print(f"{'rosenbrock n=' + str(n):<22} {method:<12} {calls:>6} {t_plain:>8.3f} {t_log:>9.3f} "
                  f"{t_replay:>9.3f} {per_call:>8.0f} {fresh_calls:>6} {replay.n_replayed:>9} "
                  f"{str(np.array_equal(replay.x, plain.x)):>6}")
            assert replay_calls == 0


if __name__ == "__main__":
    main()
