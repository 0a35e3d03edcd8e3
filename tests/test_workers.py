"""The `workers` option: independent evaluations sent out together give the serial results and counts.

References: the serial run (bitwise, same counts), scipy's `approx_fprime`,
`rosen_hess` and ``numpy.linalg.eigh`` of explicit Hessians, the analytic
Lennard-Jones Hessian.  Oracles are module-level functions (scipy's
Rosenbrock, `curvopt.testing.potentials`) so that they pickle.
"""

import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.optimize import approx_fprime, rosen, rosen_der, rosen_hess, rosen_hess_prod  # noqa: E402

import curvopt  # noqa: E402
from curvopt import HessianOperator  # noqa: E402
from curvopt._oracle import Oracle  # noqa: E402
from curvopt._workers import Workers, resolve_workers  # noqa: E402
from curvopt.eigen import eigenmodes  # noqa: E402
from curvopt.testing.potentials import lennard_jones_hessian  # noqa: E402
from curvopt.testing.potentials import lennard_jones, lj7_minimum  # noqa: E402

X = np.linspace(-1.2, 1.1, 10)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def pool():
    """One local process pool for the module (its map is a map-like `workers`)."""
    with ProcessPoolExecutor(2) as ex:
        yield ex


def lj_energy(x):
    return lennard_jones(x)[0]


def lj_gradient(x):
    return lennard_jones(x)[1]


def failing_gradient(x):
    if x[0] > 0.5:
        raise ZeroDivisionError("boom at a displaced point")
    return rosen_der(x)


class Unpicklable:
    """A gradient holding a lock: it cannot be sent to another process."""

    def __init__(self):
        import threading

        self.lock = threading.Lock()

    def __call__(self, x):
        return rosen_der(x)


# ---------------------------------------------------------------- resolving `workers`
def test_resolve_workers_values():
    assert not Workers(None).parallel and not Workers(1).parallel and not Workers(map).parallel
    two = Workers(2)
    assert two.parallel and two.n_workers == 2 and two.needs_pickling
    assert Workers(-1).n_workers == len(os.sched_getaffinity(0))
    with ThreadPoolExecutor(2) as ex:
        assert Workers(ex).parallel and not Workers(ex.map).needs_pickling  # an executor, or its map
    assert resolve_workers(two) is two
    for bad, err in [(0, ValueError), (-2, ValueError), (True, TypeError), ("2", TypeError), (2.0, TypeError)]:
        with pytest.raises(err, match="workers"):
            Workers(bad)


def test_serial_workers_keep_order_and_pool_maps_in_order():
    items = list(range(7))
    assert Workers(None)(float.__neg__, map(float, items)) == [-float(i) for i in items]
    with Workers(2) as w:
        assert w(abs, [-i for i in items]) == items  # chunked over two processes, order kept
    assert w._pool is None  # shut down by the with block


# ---------------------------------------------------------------- finite-difference gradients of `fun`
@pytest.mark.parametrize("scheme", ["2-point", "3-point"])
def test_fd_gradient_equals_serial_and_scipy(scheme, pool):
    serial = Oracle(rosen, None, (), scheme)
    parallel = Oracle(rosen, None, (), scheme)
    parallel.workers = Workers(pool.map)
    g0, g1 = serial.gradient(X), parallel.gradient(X)
    assert np.array_equal(g0, g1)
    assert (serial.nfev, serial.njev) == (parallel.nfev, parallel.njev) == (X.size * (2 if scheme == "3-point" else 1) + (scheme == "2-point"), 1)
    ref = approx_fprime(X, rosen, 1.49e-8)  # scipy's forward differences
    np.testing.assert_allclose(g1, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g1, rosen_der(X), rtol=1e-5 if scheme == "2-point" else 1e-8, atol=1e-6)


@pytest.mark.parametrize("jac", ["2-point", "3-point"])
def test_minimize_fd_gradients_with_workers_equal_serial(jac):
    a = curvopt.minimize(rosen, X[:6], jac=jac)
    b = curvopt.minimize(rosen, X[:6], jac=jac, options={"workers": 2})
    assert np.array_equal(a.x, b.x) and (a.nfev, a.njev, a.nit) == (b.nfev, b.njev, b.nit)
    assert b.success and np.allclose(b.x, 1.0, atol=1e-4)  # Rosenbrock's minimizer


def test_minimize_central_products_send_both_gradient_calls_together(pool):
    """hessp='3-point': each CG product's g(x + h p) and g(x - h p) go out as one batch."""
    a = curvopt.minimize(rosen, X, jac=rosen_der, hessp="3-point")
    b = curvopt.minimize(rosen, X, jac=rosen_der, hessp="3-point", options={"workers": pool.map})
    assert np.array_equal(a.x, b.x) and (a.njev, a.n_hvp, a.nit) == (b.njev, b.n_hvp, b.nit)
    assert b.success and np.allclose(b.x, 1.0, atol=1e-4)
    H = HessianOperator(X, jac=rosen_der, workers=pool.map)
    v = np.arange(X.size, dtype=float)
    assert np.array_equal(H @ v, HessianOperator(X, jac=rosen_der) @ v) and H.n_grad_calls == 2


def test_minimize_combined_jac_verify_with_workers(pool):
    """jac=True (fun returns (f, g)) and the curvature check, whose block of products goes out together."""
    x0 = lj7_minimum() + 0.01 * np.random.default_rng(0).standard_normal(21)
    a = curvopt.minimize(lennard_jones, x0, jac=True, options={"verify": True})
    b = curvopt.minimize(lennard_jones, x0, jac=True, options={"verify": True, "workers": pool.map})
    assert np.array_equal(a.x, b.x) and (a.nfev, a.njev) == (b.nfev, b.njev)
    assert abs(b.fun - (-16.505384)) < 1e-5  # the known LJ7 minimum


def test_minimize_budget_with_workers_is_respected():
    res = curvopt.minimize(rosen, X, jac="3-point", options={"workers": 2, "max_grad_calls": 5})
    assert not res.success and res.njev <= 5


# ---------------------------------------------------------------- HessianOperator blocks
@pytest.mark.parametrize("method", ["2-point", "3-point"])
def test_hessian_operator_block_equals_serial_and_exact(method):
    V = np.random.default_rng(1).standard_normal((X.size, 5))
    H0 = HessianOperator(X, jac=rosen_der, method=method)
    with HessianOperator(X, jac=rosen_der, method=method, workers=2) as H1:
        B0, B1 = H0 @ V, H1 @ V
    assert np.array_equal(B0, B1)
    assert (H0.n_products, H0.n_grad_calls) == (H1.n_products, H1.n_grad_calls)
    assert H1.n_grad_calls == (10 if method == "3-point" else 6)
    np.testing.assert_allclose(B1, rosen_hess(X) @ V, rtol=1e-4, atol=1e-4 * np.abs(rosen_hess(X)).max())


def test_hessian_operator_user_hessp_and_autograd_in_workers(pool):
    V = np.eye(X.size)[:, :4]
    H = HessianOperator(X, hessp=rosen_hess_prod, workers=pool.map)
    np.testing.assert_allclose(H @ V, rosen_hess(X) @ V, rtol=1e-13, atol=1e-12)
    assert H.n_products == 4
    x = lj7_minimum()
    A = HessianOperator(x, fun=lj_energy_autograd, workers=pool.map)
    np.testing.assert_allclose(A @ np.eye(21), HessianOperator(x, fun=lj_energy_autograd) @ np.eye(21), rtol=1e-13)


def lj_energy_autograd(x):
    import autograd.numpy as anp

    X3 = anp.reshape(x, (-1, 3))
    i, j = np.triu_indices(7, 1)
    d = X3[i] - X3[j]
    inv6 = 1.0 / anp.sum(d * d, axis=1) ** 3
    return 4.0 * anp.sum(inv6 * inv6 - inv6)


def test_user_errors_raised_in_a_worker_reach_the_caller(pool):
    H = HessianOperator(np.array([0.5, 0.4, 0.4]), jac=failing_gradient, method="3-point", workers=pool.map)
    with pytest.raises(ZeroDivisionError, match="boom"):
        H @ np.eye(3)  # x + h e_0 is past 0.5


def test_unpicklable_oracles_get_a_clear_error():
    with pytest.raises(TypeError, match=r"workers=2 needs a picklable gradient `jac`.*module level"):
        HessianOperator(X, jac=lambda x: rosen_der(x), workers=2)
    with pytest.raises(TypeError, match=r"picklable objective `fun`"):
        curvopt.minimize(lambda x: rosen(x), X, jac="2-point", options={"workers": 2})
    with pytest.raises(TypeError, match=r"picklable `hessp`"):
        HessianOperator(X, hessp=lambda x, p: rosen_hess_prod(x, p), workers=2)
    with pytest.raises(TypeError, match="needs a picklable gradient `jac`"):
        HessianOperator(X, jac=Unpicklable(), workers=2)
    # threads share memory: nothing to pickle
    with ThreadPoolExecutor(2) as ex:
        H = HessianOperator(X, jac=Unpicklable(), workers=ex.map)
        assert np.array_equal(H @ np.eye(10), HessianOperator(X, jac=rosen_der) @ np.eye(10))


# ---------------------------------------------------------------- eigenmodes
def test_block_lanczos_with_workers_equals_serial_and_eigh(pool):
    x = lj7_minimum()
    H0 = HessianOperator(x, jac=lj_gradient, method="3-point")
    H1 = HessianOperator(x, jac=lj_gradient, method="3-point")
    kw = dict(k=3, which="largest", block_size=2, rng=3)
    a = eigenmodes(H0, **kw)
    b = eigenmodes(H1, workers=pool.map, **kw)
    assert np.array_equal(a.eigenvalues, b.eigenvalues) and a.n_products == b.n_products
    assert H0.n_grad_calls == H1.n_grad_calls
    exact = np.linalg.eigvalsh(H0 @ np.eye(21))[-3:]  # the dense matrix of the same products
    np.testing.assert_allclose(b.eigenvalues, exact, rtol=1e-6)
    assert H1._workers is None  # eigenmodes' workers were for that call only
    A = rosen_hess(X)
    c = eigenmodes(A, k=2, block_size=2, rng=0, workers=pool.map)  # a plain array is sent with the columns
    np.testing.assert_allclose(c.eigenvalues, np.linalg.eigvalsh(A)[:2], rtol=1e-8)


# ---------------------------------------------------------------- vibrations
@pytest.fixture(scope="module")
def lj13():
    pytest.importorskip("ase")
    from curvopt.chem.systems import lj_cluster

    return lj_cluster(13)[0]


def vibrational_eigenvalues(atoms):
    from curvopt.chem import rigid_body_modes

    import scipy.linalg

    R, _ = rigid_body_modes(atoms.positions, atoms.get_masses())
    Q = scipy.linalg.null_space(R.T)
    sm = np.repeat(np.sqrt(atoms.get_masses()), 3)
    return np.linalg.eigvalsh(Q.T @ (lennard_jones_hessian(atoms.positions, rc=10.0) / sm[:, None] / sm[None, :]) @ Q)


@pytest.mark.parametrize("method, k", [("lanczos", None), ("full", None), ("lanczos", 4)])
def test_vibrations_with_two_workers_equal_serial(lj13, method, k):
    """Dense, full, and Lanczos whose central products send their two force calls together."""
    a = vibrations_(lj13, method=method, k=k)
    b = vibrations_(lj13, method=method, k=k, workers=2)
    assert a.method == b.method == ("dense" if k is None and method == "lanczos" else method)
    assert np.array_equal(a.eigenvalues, b.eigenvalues) and a.n_force_calls == b.n_force_calls
    # central differences with ASE's delta of 5e-3 Å: O(delta^2) truncation, below 1e-3 relative for LJ
    np.testing.assert_allclose(b.eigenvalues, vibrational_eigenvalues(lj13)[:b.eigenvalues.size], rtol=1e-3)


def test_vibrations_lanczos_blocks_with_workers_match_exact(lj13, pool):
    res = vibrations_(lj13, k=4, hvp="2-point", delta=1e-5, workers=pool.map)  # blocks of 4 products
    assert res.method == "lanczos" and res.converged
    # forward differences (O(delta)) and the eigensolver's tol=1e-6 relative to ||W||
    np.testing.assert_allclose(res.eigenvalues, vibrational_eigenvalues(lj13)[:4], rtol=1e-4)


def test_vibrations_emt_after_use_and_threads():
    """EMT holds unpicklable state once it has computed: a fresh one is sent; threads get deep copies."""
    ase_build = pytest.importorskip("ase.build")
    from ase.calculators.emt import EMT

    atoms = ase_build.molecule("CH4")
    atoms.calc = EMT()
    atoms.get_forces()
    a = vibrations_(atoms)
    b = vibrations_(atoms, workers=2)
    with ThreadPoolExecutor(2) as ex:
        c = vibrations_(atoms, workers=ex.map)
    assert np.array_equal(a.eigenvalues, b.eigenvalues) and np.array_equal(a.eigenvalues, c.eigenvalues)
    assert a.n_force_calls == b.n_force_calls == c.n_force_calls
    # EMT's CH4 is no minimum; its four C-H stretches against ASE's own finite differences
    np.testing.assert_allclose(b.frequencies[-4:], _ase_frequencies(atoms)[-4:], rtol=1e-4)


def _ase_frequencies(atoms):
    """Real vibrational wavenumbers (cm^-1) from ASE's own finite-difference Hessian (delta 0.005 Å)."""
    import tempfile

    from ase.vibrations import Vibrations

    with tempfile.TemporaryDirectory() as tmp:
        vib = Vibrations(atoms, name=os.path.join(tmp, "vib"), delta=0.005)
        vib.run()
        freq = np.real(vib.get_frequencies())
    return np.sort(freq)


def test_vibrations_unpicklable_calculator_error():
    ase = pytest.importorskip("ase")
    from ase.calculators.lj import LennardJones

    class LocalLJ(LennardJones):  # defined in a function: pickle cannot find the class
        pass

    atoms = ase.Atoms("Ar2", positions=[[0, 0, 0], [1.12, 0, 0]])
    atoms.calc = LocalLJ()
    with pytest.raises(TypeError, match=r"workers=2 needs a picklable ASE calculator \(LocalLJ"):
        vibrations_(atoms, workers=2)


def vibrations_(atoms, **kw):
    from curvopt.chem import vibrations

    return vibrations(atoms, **kw)


# ---------------------------------------------------------------- dask.distributed on loopback
@pytest.fixture(scope="module")
def dask_executor():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (the `dist` extra)")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       host="127.0.0.1")
    client = distributed.Client(cluster)
    try:
        yield client.get_executor()
    finally:
        client.close()
        cluster.close()


def test_dask_local_cluster(dask_executor, lj13):
    dmap = dask_executor.map
    V = np.random.default_rng(2).standard_normal((X.size, 3))
    H = HessianOperator(X, jac=rosen_der, workers=dmap)
    assert np.array_equal(H @ V, HessianOperator(X, jac=rosen_der) @ V) and H.n_grad_calls == 6
    o = Oracle(rosen, None, (), "3-point")
    o.workers = Workers(dmap)
    assert np.array_equal(o.gradient(X), Oracle(rosen, None, (), "3-point").gradient(X)) and o.nfev == 20
    a = vibrations_(lj13)
    b = vibrations_(lj13, workers=dask_executor)  # the executor object itself
    assert np.array_equal(a.eigenvalues, b.eigenvalues) and a.n_force_calls == b.n_force_calls


# ---------------------------------------------------------------- MPI
def _mpiexec():
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


@pytest.mark.slow
def test_mpi_example_under_mpiexec():
    pytest.importorskip("mpi4py")
    mpiexec = _mpiexec()
    if mpiexec is None:
        pytest.skip("no mpiexec: install an MPI runtime (e.g. `pip install mpich`)")
    probe = subprocess.run([sys.executable, "-c", "from mpi4py import MPI"], capture_output=True, text=True)
    if probe.returncode:
        pytest.skip(f"mpi4py cannot load an MPI library: {probe.stderr.strip().splitlines()[-1]}")
    out = subprocess.run([mpiexec, "-n", "3", sys.executable, "-m", "mpi4py.futures",
                          str(EXAMPLES / "mpi_vibrations.py")], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    assert "same as serial: True; force calls 66 (serial 66)" in out.stdout


def test_mpi_example_runs_with_a_local_pool():
    import importlib.util
    import io
    from contextlib import redirect_stdout

    spec = importlib.util.spec_from_file_location("mpi_vibrations", EXAMPLES / "mpi_vibrations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with redirect_stdout(io.StringIO()) as text:
        parallel, serial = module.main(workers=2, n_atoms=7)
    assert "same as serial: True" in text.getvalue()
    assert parallel.n_force_calls == serial.n_force_calls == 2 * (3 * 7 - 6)
