"""curvopt.plot: each plot on a real run, saved as PNG and read back; data in the Axes checked against the inputs."""

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import scipy.optimize as so  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

import curvopt  # noqa: E402
from curvopt import plot  # noqa: E402
from curvopt.testing.potentials import MULLER_BROWN_SADDLES, muller_brown  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def save(ax, path, size=(640, 320), dpi=80):
    fig = np.ravel(ax)[0].figure
    fig.set_size_inches(size[0] / dpi, size[1] / dpi)
    fig.savefig(path, dpi=dpi)
    return path


def assert_real_plot(path, size):
    """The PNG has the requested size and looks like a plot: ink, colour, many distinct shades."""
    img = mpimg.imread(path)
    assert img.shape[:2] == (size[1], size[0])
    rgb = img[..., :3]
    ink = np.mean(np.any(rgb < 0.9, axis=-1))
    assert 0.01 < ink < 0.95, f"fraction of non-white pixels {ink:.3f}"
    shades = np.unique((rgb * 255).round().astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(shades) > 30, f"only {len(shades)} distinct colours"
    # frames, ticks and text are grey: a plot with data has coloured pixels
    chroma = rgb.max(axis=-1) - rgb.min(axis=-1)
    assert np.mean(chroma > 0.25) > 5e-4, "no coloured pixels: nothing plotted"


def test_image_check_rejects_empty_axes(tmp_path):
    _, ax = plt.subplots()
    ax.set_xlabel("x")
    path = save(ax, tmp_path / "empty.png")
    with pytest.raises(AssertionError):
        assert_real_plot(path, (640, 320))


# ----------------------------------------------------------------------------
# Recorder and convergence
def rosenbrock_runs():
    x0 = np.array([-1.2, 1.0])
    ours, from_curvopt = plot.Recorder(so.rosen_der, fun=so.rosen), plot.Recorder()

    def both(intermediate_result):
        ours(intermediate_result)
        from_curvopt(intermediate_result)

    res_ours = curvopt.minimize(ours.fun, x0, jac=ours.jac, method="trust-ncg", callback=both)
    theirs = plot.Recorder(so.rosen_der, fun=so.rosen)
    res_theirs = so.minimize(theirs.fun, x0, jac=theirs.jac, method="L-BFGS-B", callback=theirs)
    return (ours, res_ours, from_curvopt), (theirs, res_theirs)


def test_recorder_counts_and_values_match_the_optimizers():
    (ours, res_ours, from_curvopt), (theirs, res_theirs) = rosenbrock_runs()
    assert res_ours.success and res_theirs.success
    # the wrapper's count is the optimizers' own: scipy's njev, and curvopt's per iteration
    assert theirs.n_grad == res_theirs.njev
    assert ours.n_grad == res_ours.njev
    np.testing.assert_array_equal(ours.njev[1:], from_curvopt.njev)
    for rec in (ours, theirs):
        assert rec.njev[0] == 1 and np.all(np.diff(rec.njev) > 0)
        assert len(rec) == len(rec.x) == rec.fun_values.size == rec.gnorm.size
        np.testing.assert_allclose(rec.fun_values, [so.rosen(x) for x in rec.x], rtol=1e-12)
        np.testing.assert_allclose(rec.gnorm, [np.linalg.norm(so.rosen_der(x)) for x in rec.x], rtol=1e-12)
        np.testing.assert_allclose(rec.x[0], [-1.2, 1.0])
        np.testing.assert_allclose(rec.x[-1], [1.0, 1.0], atol=1e-4)  # the known minimizer
        assert rec.n_extra == 0
    # finish() adds nothing when the last callback saw every call
    n = len(theirs)
    theirs.finish(res_theirs)
    assert len(theirs) == n


def test_recorder_jac_true_and_missing_gradient():
    calls = []

    def fg(x):
        calls.append(1)
        return so.rosen(x), so.rosen_der(x)

    rec = plot.Recorder(True, fun=fg)
    res = so.minimize(rec.fun, np.zeros(3), jac=True, method="BFGS", callback=rec)
    assert rec.n_grad == len(calls) == res.njev
    np.testing.assert_allclose(rec.gnorm, [np.linalg.norm(so.rosen_der(x)) for x in rec.x], rtol=1e-12)
    # the callback at a point the wrapper never saw: the gradient is evaluated, outside the count
    g_only = plot.Recorder(so.rosen_der)
    g_only(np.array([0.5, 0.5]))
    assert g_only.n_grad == 0 and g_only.n_extra == 1
    assert np.isnan(g_only.fun_values[0])
    assert g_only.gnorm[0] == pytest.approx(np.linalg.norm(so.rosen_der(np.array([0.5, 0.5]))))


def test_recorder_bad_input():
    with pytest.raises(TypeError, match="`jac`"):
        plot.Recorder("2-point")
    with pytest.raises(ValueError, match="`fun` is required"):
        plot.Recorder(True)
    with pytest.raises(ValueError, match="njev"):  # scipy gives no count: Recorder(jac) is needed
        so.minimize(so.rosen, np.zeros(2), jac=so.rosen_der, method="L-BFGS-B", callback=plot.Recorder())
    with pytest.raises(TypeError, match="Recorder\\(jac\\)"):
        plot.Recorder(fun=so.rosen).jac(np.zeros(2))


def test_convergence_plot_of_curvopt_beside_scipy(tmp_path):
    (ours, _, _), (theirs, _) = rosenbrock_runs()
    axes = plot.convergence({"curvopt trust-ncg": ours, "scipy L-BFGS-B": theirs}, fmin=0.0)
    assert axes.shape == (2,)
    for rec, f_line, g_line in zip((ours, theirs), axes[0].lines, axes[1].lines):
        np.testing.assert_array_equal(f_line.get_xdata(), rec.njev)
        np.testing.assert_array_equal(f_line.get_ydata(), rec.fun_values)  # fmin = 0
        np.testing.assert_array_equal(g_line.get_ydata(), rec.gnorm)
        assert f_line.get_color() == g_line.get_color()
    assert axes[0].get_yscale() == "log" and axes[1].get_yscale() == "log"
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["curvopt trust-ncg", "scipy L-BFGS-B"]
    assert axes[0].get_xlabel() == "gradient calls"
    assert_real_plot(save(axes, tmp_path / "convergence.png"), (640, 320))


def test_convergence_accepts_plain_arrays():
    njev, f, g = [1, 3, 6], [10.0, 2.0, 0.5], [4.0, 1.0, 0.1]
    ax = plot.convergence({"a": (njev, f, g), "b": {"njev": njev, "fun": f}}, which="fun")
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), njev)
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), f)
    assert ax.get_yscale() == "linear"  # no fmin: f itself
    _, two = plt.subplots(1, 2)
    axes = plot.convergence((njev, f, g), fmin=0.25, ax=two)
    assert axes[0] is two[0] and axes[0].get_legend() is None
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), np.array(f) - 0.25)
    ax = plot.convergence({"njev": njev, "fun": f, "gnorm": g}, which="gnorm")
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), g)
    table = np.zeros(3, dtype=[("njev", int), ("fun", float), ("gnorm", float)])  # e.g. rows of a log
    table["njev"], table["fun"], table["gnorm"] = njev, f, g
    axes = plot.convergence({"log": table})
    np.testing.assert_array_equal(axes[1].lines[0].get_xdata(), njev)
    np.testing.assert_array_equal(axes[1].lines[0].get_ydata(), g)


def test_convergence_bad_input():
    with pytest.raises(ValueError, match="`fun` has 2 values"):
        plot.convergence(([1, 2, 3], [1.0, 2.0]))
    with pytest.raises(ValueError, match="`which`"):
        plot.convergence(([1], [1.0]), which="f")
    with pytest.raises(TypeError, match="run 'x'"):
        plot.convergence({"x": 3.0})
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="two Axes"):
        plot.convergence(([1], [1.0]), ax=ax)


# ----------------------------------------------------------------------------
def test_spectral_density_with_exact_eigenvalue_rug(tmp_path):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((150, 150))
    A = (A + A.T) / np.sqrt(2 * 150)
    exact = np.linalg.eigh(A)[0]
    sd = curvopt.spectral_density(A, n_vectors=6, lanczos_steps=40, rng=0)
    ax = plot.spectral_density(sd, eigenvalues=exact, bins=30)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), sd.grid)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), sd.density)
    (rug,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    ticks = np.array([seg[0, 0] for seg in rug.get_segments()])
    np.testing.assert_array_equal(np.sort(ticks), exact)
    assert len(ax.patches) == 1  # the histogram, one filled step patch
    assert_real_plot(save(ax, tmp_path / "density.png", size=(500, 400)), (500, 400))
    # the (grid, density) form draws the same curve
    ax2 = plot.spectral_density((sd.grid, sd.density))
    np.testing.assert_array_equal(ax2.lines[0].get_ydata(), sd.density)
    with pytest.raises(ValueError, match="`bins` needs `eigenvalues`"):
        plot.spectral_density(sd, bins=10)
    with pytest.raises(TypeError, match="SpectralDensity"):
        plot.spectral_density(3.0)


# ----------------------------------------------------------------------------
def stick_positions(collection):
    return np.array([seg[0, 0] for seg in collection.get_segments()])


def test_stick_spectrum_of_planar_ammonia(tmp_path):
    pytest.importorskip("tblite.ase")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from ase.build import molecule
    from tblite.ase import TBLite

    from curvopt.chem import vibrations
    from curvopt.chem.systems import relax

    atoms = molecule("NH3")
    atoms.positions[:, 2] = 0.0
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0, accuracy=1e-3)
    relax(atoms, fmax=1e-5)
    res = vibrations(atoms)
    # the planar geometry is the top of the umbrella inversion: exactly one imaginary mode
    assert np.sum(res.frequencies < 0) == 1
    ax = plot.stick_spectrum(res, width=30.0)
    real, imaginary = [c for c in ax.collections if isinstance(c, LineCollection)]
    np.testing.assert_allclose(stick_positions(real), res.frequencies[res.frequencies >= 0])
    np.testing.assert_allclose(stick_positions(imaginary), res.frequencies[res.frequencies < 0])
    assert not np.allclose(real.get_colors()[0], imaginary.get_colors()[0])
    assert_real_plot(save(ax, tmp_path / "sticks.png"), (640, 320))
    # ASE's complex frequencies (i|nu| for imaginary modes) give the same sticks
    ax2 = plot.stick_spectrum(res.get_frequencies())
    np.testing.assert_allclose(
        np.sort(np.concatenate([stick_positions(c) for c in ax2.collections if isinstance(c, LineCollection)])),
        np.sort(res.frequencies),
    )


def test_stick_spectrum_lorentzian_envelope_is_analytic():
    freq, heights = np.array([-500.0, 1000.0, 3000.0]), np.array([1.0, 2.0, 0.5])
    grid = np.array([1000.0, 1005.0, 3000.0])
    ax = plot.stick_spectrum(freq, intensities=heights, width=10.0, grid=grid)
    (envelope,) = ax.lines[:1]
    # peak height equals the stick at its centre, half of it one half-width (5 cm^-1) away
    expected = [
        2.0 + 0.5 * 25 / (2000.0**2 + 25),
        1.0 + 0.5 * 25 / (1995.0**2 + 25),
        0.5 + 2.0 * 25 / (2000.0**2 + 25),
    ]
    np.testing.assert_allclose(envelope.get_xdata(), grid)
    np.testing.assert_allclose(envelope.get_ydata(), expected, rtol=1e-12)
    assert ax.get_ylabel() == "intensity"
    with pytest.raises(ValueError, match="`intensities`"):
        plot.stick_spectrum(freq, intensities=[1.0, 2.0])
    with pytest.raises(ValueError, match="`width`"):
        plot.stick_spectrum(freq, width=-1.0)


# ----------------------------------------------------------------------------
def test_saddle_path_on_muller_brown(tmp_path):
    start, known = next(iter(MULLER_BROWN_SADDLES.items()))
    res = curvopt.find_saddle(muller_brown, start, jac=True, options={"return_all": True})
    assert res.success
    ax = plot.saddle_path(res, muller_brown, extent=(-1.5, 1.2, -0.5, 2.0), resolution=60)
    path_line, start_marker, saddle_marker = ax.lines
    np.testing.assert_array_equal(np.column_stack([path_line.get_xdata(), path_line.get_ydata()]),
                                  np.asarray(res.allvecs))
    np.testing.assert_allclose([start_marker.get_xdata()[0], start_marker.get_ydata()[0]], start)
    # the star is at the Müller-Brown saddle (known to 5 decimals)
    np.testing.assert_allclose([saddle_marker.get_xdata()[0], saddle_marker.get_ydata()[0]], known, atol=1e-4)
    assert ax.get_xlim() == (-1.5, 1.2)
    assert_real_plot(save(ax, tmp_path / "saddle.png", size=(480, 400)), (480, 400))


def test_saddle_path_bad_input():
    res = curvopt.find_saddle(muller_brown, [-0.7, 0.6], jac=True)
    with pytest.raises(ValueError, match="return_all"):
        plot.saddle_path(res, muller_brown)
    with pytest.raises(ValueError, match="shape \\(k, 2\\)"):
        plot.saddle_path(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="`extent`"):
        plot.saddle_path(np.zeros((2, 2)), extent=(1.0, 0.0, 0.0, 1.0))
    with pytest.raises(TypeError, match="`ax`"):
        plot.saddle_path(np.zeros((2, 2)), ax="axes")


# ----------------------------------------------------------------------------
def test_plots_need_matplotlib_with_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "curvopt\[plot\]"'):
        plot.convergence(([1, 2], [1.0, 0.5]))
    rec = plot.Recorder(so.rosen_der)  # the recorder needs no matplotlib
    rec.jac(np.zeros(2))
    assert rec.n_grad == 1


def test_example_writes_four_real_pngs(tmp_path):
    pytest.importorskip("tblite.ase")
    spec = importlib.util.spec_from_file_location("plots_example", EXAMPLES / "plots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main(tmp_path)
    for name in ("convergence", "spectral_density", "vibrations", "saddle_path"):
        path = tmp_path / f"{name}.png"
        img = mpimg.imread(path)
        assert_real_plot(path, (img.shape[1], img.shape[0]))
        assert min(img.shape[:2]) >= 300
    # the example's spectral density is of the Hessian whose exact eigenvalues it shows
    density, eigenvalues = out["spectral_density"]
    assert eigenvalues.min() > -1e-3 * eigenvalues.max()  # a relaxed cluster: no negative curvature
    saddles = [tuple(r.x) for r in out["saddle_path"]]
    np.testing.assert_allclose(sorted(saddles), sorted(MULLER_BROWN_SADDLES.values()), atol=1e-4)


def test_convergence_reads_an_evaluation_log(tmp_path):
    """The iterations `curvopt.read_log` returns plot as they are (the value column is named f there)."""
    log = tmp_path / "run.sqlite"
    res = curvopt.minimize(so.rosen, np.tile([-1.2, 1.0], 3), jac=so.rosen_der, method="trust-ncg",
                           options={"log": str(log)})
    it = curvopt.read_log(log).iterations
    ax = plot.convergence(it, which="fun")
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), it.njev)
    np.testing.assert_array_equal(line.get_ydata(), it.f)
    assert it.njev[-1] <= res.njev and it.f[-1] == res.fun
    plt.close(ax.figure)
