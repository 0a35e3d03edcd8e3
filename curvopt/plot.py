"""Plots of curvopt runs: convergence, spectral densities, vibrational spectra, saddle paths.

Needs matplotlib, imported only when a plot is drawn; install the extra with
``pip install "curvopt[plot]"``.  `Recorder`, the history a convergence plot
reads, works without it.

Every plotting function takes an optional ``ax`` (a new figure is made when it
is None) and returns the Axes it drew on, as matplotlib's own functions do.

- `convergence`: ``f`` and ``||g||`` against gradient calls, several runs side
  by side (curvopt beside scipy), from `Recorder` histories or plain arrays.
- `spectral_density`: a `curvopt.spectral_density` result, with the exact
  eigenvalues as a rug when they are known.
- `stick_spectrum`: harmonic wavenumbers of `curvopt.chem.vibrations`,
  imaginary modes as negative wavenumbers in their own colour, with an
  optional Lorentzian envelope.
- `saddle_path`: the iterates of `curvopt.find_saddle` on a contour plot of a
  2-D potential, the end point marked.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

__all__ = ["Recorder", "convergence", "spectral_density", "stick_spectrum", "saddle_path"]

_INSTALL_HINT = 'curvopt.plot needs matplotlib; install it with: pip install "curvopt[plot]"'


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    return plt


def _new_axes(ax):
    if ax is not None:
        if not hasattr(ax, "plot") or not hasattr(ax, "figure"):
            raise TypeError(f"`ax` must be a matplotlib Axes or None; got {type(ax).__name__}")
        return ax
    _, ax = _pyplot().subplots()
    return ax


# ----------------------------------------------------------------------------
# history of a run
class Recorder:
    """Per-iteration history of a minimization, counted in gradient calls.

    Use it as the ``callback`` of `curvopt.minimize` or
    `scipy.optimize.minimize` and pass its counting wrapper of the gradient
    to the optimizer, so that both libraries are measured by the same clock::

        rec = Recorder(jac)
        minimize(fun, x0, jac=rec.jac, callback=rec)

    or, for an objective returning ``(f, g)``::

        rec = Recorder(True, fun=fun_and_grad)
        minimize(rec.fun, x0, jac=True, callback=rec)

    scipy's ``intermediate_result`` carries ``x`` and ``fun`` but neither the
    gradient nor a count of gradient calls: the count comes from the
    wrapper, and the gradient norm at ``x`` from the wrapper's memory of the
    last few gradients it returned (the accepted point is normally among
    them).  Where it is not, the gradient is evaluated once more, outside the
    count (`n_extra`).

    Parameters
    ----------
    jac : callable, True or None
        The gradient ``jac(x, *args)``; True when `fun` returns ``(f, g)``;
        None to rely on ``intermediate_result.njev`` and ``.jac``, which
        `curvopt.minimize` and `curvopt.find_saddle` supply (scipy does not).
    fun : callable, optional
        The objective.  Needed with ``jac=True``; with a gradient callable it
        is optional, and wrapping it (``rec.fun``) gives the value at the
        start point and at points where the callback receives no value.

    Attributes
    ----------
    njev : ndarray of int
        Gradient calls made up to each recorded point.
    fun_values, gnorm : ndarray
        The objective and the Euclidean norm of the gradient there (NaN where
        unknown).  (``fun`` is the counting wrapper of the objective.)
    x : list of ndarray
        The recorded points.
    n_grad, n_fun : int
        Calls made through `jac` / `fun` so far.
    n_extra : int
        Gradients evaluated for the record only (not counted in `njev`).

    Notes
    -----
    The first gradient call is recorded as the start (iteration 0): both
    curvopt and scipy evaluate the gradient first at ``x0``.  With
    ``jac=None`` there is no wrapper and the history begins after the first
    iteration.
    """

    _MEMORY = 8  # remembered gradients: the accepted point is among the last few evaluated

    def __init__(self, jac=None, *, fun=None):
        if jac is not None and jac is not True and not callable(jac):
            raise TypeError(f"`jac` must be a callable, True or None; got {type(jac).__name__}")
        if fun is not None and not callable(fun):
            raise TypeError(f"`fun` must be callable or None; got {type(fun).__name__}")
        if jac is True and fun is None:
            raise ValueError("`fun` is required with jac=True (the objective that returns (f, g))")
        self._jac = jac
        self._fun = fun
        self._args = ()
        self.n_grad = 0
        self.n_fun = 0
        self.n_extra = 0
        self._memory = OrderedDict()  # x bytes -> [f or None, g or None]
        self._njev, self._f, self._gnorm, self.x = [], [], [], []

    # -- counting wrappers handed to the optimizer
    def _remember(self, x, f=None, g=None):
        key = np.asarray(x, dtype=float).tobytes()
        slot = self._memory.pop(key, [None, None])
        if f is not None:
            slot[0] = float(f)
        if g is not None:
            slot[1] = np.array(g, dtype=float, copy=True)
        self._memory[key] = slot
        while len(self._memory) > self._MEMORY:
            self._memory.popitem(last=False)
        return slot

    def _start(self, x, slot):
        if not self._njev:
            f = np.nan if slot[0] is None else slot[0]
            g = slot[1]
            self._append(np.asarray(x, dtype=float).copy(), self.n_grad, f, np.linalg.norm(g))

    def jac(self, x, *args):
        """The gradient, counted and remembered (hand this to the optimizer).

        Parameters
        ----------
        x : ndarray
            The point.
        *args
            Passed on to the gradient.

        Returns
        -------
        ndarray
            What the wrapped gradient returned.
        """
        if not callable(self._jac):
            raise TypeError("Recorder.jac needs a gradient callable: construct Recorder(jac)")
        self._args = args
        g = self._jac(x, *args)
        self.n_grad += 1
        self._start(x, self._remember(x, g=g))
        return g

    def fun(self, x, *args):
        """The objective, counted and remembered (with ``jac=True``: ``(f, g)``, one gradient call).

        Parameters
        ----------
        x : ndarray
            The point.
        *args
            Passed on to the objective.

        Returns
        -------
        float or tuple
            What the wrapped objective returned.
        """
        if self._fun is None:
            raise TypeError("Recorder.fun needs the objective: construct Recorder(..., fun=fun)")
        self._args = args
        out = self._fun(x, *args)
        if self._jac is True:
            f, g = out
            self.n_grad += 1
            self._start(x, self._remember(x, f=f, g=g))
        else:
            self.n_fun += 1
            self._remember(x, f=out)
        return out

    # -- the callback
    def __call__(self, intermediate_result):
        """Record one iteration: ``callback(intermediate_result)`` of scipy and curvopt.

        Methods whose callback receives only ``xk`` (scipy's TNC, COBYLA) are
        handled too; the value then comes from the wrapper's memory.
        """
        res = intermediate_result
        if isinstance(res, Mapping) or hasattr(res, "x"):
            x = np.asarray(res["x"] if isinstance(res, Mapping) else res.x, dtype=float)
            get = res.get if isinstance(res, Mapping) else (lambda k: getattr(res, k, None))
        else:
            x = np.asarray(res, dtype=float)
            get = lambda k: None  # noqa: E731
        slot = self._memory.get(x.tobytes(), [None, None])
        if self._jac is None:
            count = get("njev")
            if count is None:
                raise ValueError(
                    "Recorder(jac=None) needs `njev` in the callback's intermediate_result "
                    "(curvopt gives it, scipy does not): construct Recorder(jac) and pass rec.jac "
                    "to the optimizer"
                )
        else:
            count = self.n_grad
        f = get("fun")
        if f is None:
            f = np.nan if slot[0] is None else slot[0]
        g = get("jac")
        if g is None:
            g = slot[1]
        if g is None and callable(self._jac):
            g = self._jac(x, *self._args)
            self.n_extra += 1
            self._remember(x, g=g)
        gnorm = np.nan if g is None else np.linalg.norm(g)
        self._append(x.copy(), int(count), float(f), float(gnorm))

    def finish(self, result):
        """Record the optimizer's final result if calls were spent after the last callback.

        A run that ends in a failed iteration (a line search that gives up, a
        budget used up) spends gradient calls no callback reports; recording
        the end point at the final count keeps the plot honest about the cost.

        Parameters
        ----------
        result : OptimizeResult
            What the optimizer returned.

        Returns
        -------
        OptimizeResult
            `result` itself, so that ``rec.finish(minimize(...))`` reads well.
        """
        count = self.n_grad if self._jac is not None else result["njev"]
        if not self._njev or count != self._njev[-1]:
            self(result)
        return result

    def _append(self, x, count, f, gnorm):
        self.x.append(x)
        self._njev.append(count)
        self._f.append(f)
        self._gnorm.append(gnorm)

    @property
    def njev(self):
        return np.array(self._njev, dtype=int)

    @property
    def fun_values(self):
        return np.array(self._f, dtype=float)

    @property
    def gnorm(self):
        return np.array(self._gnorm, dtype=float)

    def history(self):
        """``{'njev': ..., 'fun': ..., 'gnorm': ...}``, the form `convergence` reads."""
        return {"njev": self.njev, "fun": self.fun_values, "gnorm": self.gnorm}

    def __len__(self):
        return len(self._njev)

    def __repr__(self):
        return f"<Recorder points={len(self)} gradient_calls={self.n_grad}>"


def _column(run, key):
    try:
        return run[key]
    except (TypeError, KeyError, IndexError, ValueError):
        return getattr(run, key, None)


def _as_history(run, name):
    """(njev, fun, gnorm or None) arrays of one run, from whatever form it came in."""
    if isinstance(run, Recorder):
        h = run.history()
        cols = (h["njev"], h["fun"], h["gnorm"])
    elif isinstance(run, (tuple, list)) and len(run) in (2, 3) and not isinstance(run[0], numbers.Number):
        cols = (run[0], run[1], run[2] if len(run) == 3 else None)
    else:
        # a mapping, a table with named columns (structured array, DataFrame) or an object
        fun = _column(run, "fun")
        if fun is None:
            fun = _column(run, "f")  # `curvopt.read_log(path).iterations` names the value f
        cols = (_column(run, "njev"), fun, _column(run, "gnorm"))
        if cols[0] is None or cols[1] is None or isinstance(cols[0], str):
            raise TypeError(
                f"run {name!r}: expected a Recorder, a (njev, fun[, gnorm]) tuple of sequences, "
                f"or a mapping / object with 'njev', 'fun' and optionally 'gnorm'; got {type(run).__name__}"
            )
    njev = np.asarray(cols[0], dtype=float).ravel()
    fun = np.asarray(cols[1], dtype=float).ravel()
    gnorm = None if cols[2] is None else np.asarray(cols[2], dtype=float).ravel()
    for label, col in (("fun", fun), ("gnorm", gnorm)):
        if col is not None and col.size != njev.size:
            raise ValueError(f"run {name!r}: `{label}` has {col.size} values but `njev` has {njev.size}")
    return njev, fun, gnorm


# ----------------------------------------------------------------------------
def convergence(runs, *, fmin=None, which="both", ax=None, marker="o", markersize=3):
    """Objective and gradient norm against gradient calls, for one or several runs.

    Parameters
    ----------
    runs : run or mapping of str to run
        One run, or runs by legend label (e.g. ``{'curvopt trust-ncg': rec1,
        'scipy L-BFGS-B': rec2}``).  A run is a `Recorder`, a tuple
        ``(njev, fun)`` or ``(njev, fun, gnorm)`` of equal-length sequences,
        or anything with columns or attributes ``njev``, ``fun`` (or ``f``)
        and optionally ``gnorm`` (a dict, a structured array, a DataFrame,
        the ``iterations`` of `curvopt.read_log`).
    fmin : float, optional
        The optimal value: ``f - fmin`` is plotted on a log scale (points at
        or below ``fmin`` are not shown).  Otherwise ``f`` on a linear scale.
    which : {'both', 'fun', 'gnorm'}
        Which panels: both (two Axes side by side) or one.
    ax : Axes, or sequence of two Axes with ``which='both'``, optional
        Where to draw; a new figure when None.
    marker : str
        Marker of the recorded points ('' for none).
    markersize : float
        Its size in points.

    Returns
    -------
    Axes, or ndarray of two Axes (``[fun, gnorm]``) with ``which='both'``

    Examples
    --------
    >>> import numpy as np, scipy.optimize as so, curvopt
    >>> from curvopt.plot import Recorder, convergence
    >>> x0 = np.full(4, -1.0)
    >>> ours, theirs = Recorder(so.rosen_der), Recorder(so.rosen_der)
    >>> res = curvopt.minimize(so.rosen, x0, jac=ours.jac, method='trust-ncg', callback=ours)
    >>> _ = so.minimize(so.rosen, x0, jac=theirs.jac, method='L-BFGS-B', callback=theirs)
    >>> bool(ours.n_grad == res.njev and ours.gnorm[-1] < 1e-4)
    True
    >>> axes = convergence({'curvopt': ours, 'scipy': theirs}, fmin=0.0)
    >>> [line.get_label() for line in axes[0].lines]
    ['curvopt', 'scipy']
    """
    if which not in ("both", "fun", "gnorm"):
        raise ValueError(f"`which` must be 'both', 'fun' or 'gnorm'; got {which!r}")
    if isinstance(runs, Mapping) and not ("njev" in runs and "fun" in runs):
        items = [(str(k), _as_history(v, k)) for k, v in runs.items()]
    else:
        items = [(None, _as_history(runs, "run"))]
    if not items:
        raise ValueError("`runs` is empty")
    if fmin is not None:
        fmin = float(fmin)
        if not math.isfinite(fmin):
            raise ValueError(f"`fmin` must be a finite float or None; got {fmin!r}")

    panels = ["fun", "gnorm"] if which == "both" else [which]
    if ax is None:
        _, axes = _pyplot().subplots(1, len(panels), figsize=(5.0 * len(panels), 4.0), squeeze=False)
        axes = list(axes[0])
    elif which == "both":
        try:
            axes = list(ax)
        except TypeError:
            axes = []
        if len(axes) != 2:
            raise ValueError("with which='both', `ax` must be None or a sequence of two Axes")
        axes = [_new_axes(a) for a in axes]
    else:
        axes = [_new_axes(ax)]

    for label, (njev, fun, gnorm) in items:
        color = None
        for panel, a in zip(panels, axes):
            if panel == "fun":
                y = fun if fmin is None else fun - fmin
            else:
                if gnorm is None:
                    continue
                y = gnorm
            kw = {"label": label, "marker": marker, "markersize": markersize}
            if color is not None:
                kw["color"] = color
            (line,) = a.plot(njev, y, **kw)
            color = line.get_color()
    for panel, a in zip(panels, axes):
        a.set_xlabel("gradient calls")
        if panel == "fun":
            if fmin is None:
                a.set_ylabel("f")
            else:
                a.set_yscale("log")
                a.set_ylabel(r"$f - f^*$")
        else:
            a.set_yscale("log")
            a.set_ylabel(r"$\|\nabla f\|$")
        a.grid(True, which="major", alpha=0.3)
    if any(label is not None for label, _ in items):
        axes[0].legend()
    return np.array(axes, dtype=object) if which == "both" else axes[0]


# ----------------------------------------------------------------------------
def spectral_density(density, *, eigenvalues=None, bins=None, ax=None, color="C0", label=None, rug_height=0.04):
    """Draw a Hessian spectral density, with the exact eigenvalues when known.

    Parameters
    ----------
    density : SpectralDensity or (grid, density) tuple
        The result of `curvopt.spectral_density`, or the two arrays.
    eigenvalues : array_like, optional
        Exact eigenvalues (e.g. from ``numpy.linalg.eigh`` of a small
        problem), drawn as a rug of ticks along the bottom of the Axes.
    bins : int or sequence, optional
        Also draw the eigenvalues as a histogram normalised to unit area,
        the quantity the density estimates [1]_ (needs `eigenvalues`).
    ax : Axes, optional
        Where to draw; a new figure when None.
    color : color
        Of the density curve.
    label : str, optional
        Legend label of the density curve.
    rug_height : float
        Height of the rug ticks as a fraction of the Axes height.

    Returns
    -------
    Axes

    References
    ----------
    .. [1] L. Lin, Y. Saad and C. Yang, "Approximating spectral densities of
       large matrices", SIAM Review 58(1), 34-65 (2016).
    """
    if hasattr(density, "grid") and hasattr(density, "density"):
        grid, values = density.grid, density.density
    else:
        try:
            grid, values = density
        except (TypeError, ValueError) as err:
            raise TypeError(
                "`density` must be a SpectralDensity or a (grid, density) tuple; "
                f"got {type(density).__name__}"
            ) from err
    grid = np.asarray(grid, dtype=float).ravel()
    values = np.asarray(values, dtype=float).ravel()
    if grid.size != values.size or grid.size < 2:
        raise ValueError(f"`density`: grid ({grid.size}) and density ({values.size}) must have the same size >= 2")
    if bins is not None and eigenvalues is None:
        raise ValueError("`bins` needs `eigenvalues` (the histogram is of the exact eigenvalues)")
    ax = _new_axes(ax)
    if label is None and eigenvalues is not None:
        label = "estimate"
    ax.plot(grid, values, color=color, label=label)
    if eigenvalues is not None:
        lam = np.asarray(eigenvalues, dtype=float).ravel()
        if not np.all(np.isfinite(lam)):
            raise ValueError("`eigenvalues` must be finite")
        if bins is not None:
            ax.hist(lam, bins=bins, density=True, histtype="stepfilled", color="0.8",
                    label="histogram of the eigenvalues")
        import matplotlib.transforms as mtransforms

        # x in data units, y in Axes units: the rug stays at the bottom whatever the density's scale
        trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
        ax.vlines(lam, 0.0, rug_height, transform=trans, color="k", linewidth=0.8, label="exact eigenvalues")
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.set_ylim(bottom=0.0)
    if label is not None:
        ax.legend()
    return ax


# ----------------------------------------------------------------------------
def _wavenumbers(vibrations):
    freq = getattr(vibrations, "frequencies", vibrations)
    freq = np.asarray(freq).ravel()
    if np.iscomplexobj(freq):
        # ASE's convention: imaginary modes as i|nu|; ours: a negative wavenumber
        freq = np.where(np.abs(freq.imag) > np.abs(freq.real), -np.abs(freq.imag), freq.real)
    try:
        freq = freq.astype(float)
    except (TypeError, ValueError) as err:
        raise TypeError(
            "`vibrations` must be a VibrationsResult or an array of wavenumbers (cm^-1)"
        ) from err
    if not np.all(np.isfinite(freq)):
        raise ValueError("`vibrations`: wavenumbers must be finite")
    return freq


def stick_spectrum(vibrations, *, intensities=None, width=None, grid=None, ax=None, color="C0",
                   imaginary_color="C3", label=None):
    """Vibrational stick spectrum, imaginary modes as negative wavenumbers.

    Parameters
    ----------
    vibrations : VibrationsResult or array_like
        The result of `curvopt.chem.vibrations`, or wavenumbers in cm^-1
        (negative for imaginary modes; complex values as ASE's
        ``get_frequencies`` returns them are converted).
    intensities : array_like, optional
        Stick heights (e.g. IR intensities); default 1 for every mode.
    width : float, optional
        Full width at half maximum (cm^-1) of a Lorentzian envelope drawn
        over the real modes [1]_; none when None.  Each Lorentzian's peak is
        its stick's height, so that the envelope and the sticks share the
        scale (degenerate modes add up).
    grid : array_like, optional
        Wavenumbers where the envelope is drawn; default 2000 points over
        the real modes with five widths of margin.
    ax : Axes, optional
        Where to draw; a new figure when None.
    color, imaginary_color : color
        Of the real and the imaginary modes.
    label : str, optional
        Legend label of the real modes.

    Returns
    -------
    Axes

    References
    ----------
    .. [1] P. F. Bernath, *Spectra of Atoms and Molecules*, 2nd ed., Oxford
       University Press (2005), section 1.8 (Lorentzian line shape of
       lifetime broadening).
    """
    freq = _wavenumbers(vibrations)
    if intensities is None:
        heights = np.ones_like(freq)
    else:
        heights = np.asarray(intensities, dtype=float).ravel()
        if heights.shape != freq.shape or not np.all(np.isfinite(heights)):
            raise ValueError(f"`intensities` must be {freq.size} finite values, one per mode; got shape {heights.shape}")
    if width is not None:
        width = float(width)
        if not (math.isfinite(width) and width > 0):
            raise ValueError(f"`width` must be a positive finite float (FWHM in cm^-1); got {width!r}")
    ax = _new_axes(ax)
    real = freq >= 0
    if np.any(real):
        ax.vlines(freq[real], 0.0, heights[real], color=color, linewidth=1.5, label=label or "real modes")
    if np.any(~real):
        ax.vlines(freq[~real], 0.0, heights[~real], color=imaginary_color, linewidth=1.5,
                  label="imaginary modes")
    if width is not None and np.any(real):
        if grid is None:
            lo, hi = freq[real].min() - 5 * width, freq[real].max() + 5 * width
            grid = np.linspace(max(lo, 0.0), hi, 2000)
        grid = np.asarray(grid, dtype=float).ravel()
        half = 0.5 * width
        envelope = (heights[real][None, :] * half**2 / ((grid[:, None] - freq[real][None, :]) ** 2 + half**2)).sum(1)
        ax.plot(grid, envelope, color=color, alpha=0.6, linewidth=1.0, label=f"Lorentzian, FWHM {width:g} cm$^{{-1}}$")
    ax.axhline(0.0, color="k", linewidth=0.5)
    if np.any(~real):
        ax.axvline(0.0, color="0.5", linewidth=0.5, linestyle=":")
    ax.set_xlabel(r"wavenumber / cm$^{-1}$")
    ax.set_ylabel("intensity" if intensities is not None else "intensity (arb. units)")
    ax.set_ylim(bottom=0.0)
    ax.legend()
    return ax


# ----------------------------------------------------------------------------
def _evaluate_2d(fun, X, Y):
    Z = np.empty_like(X)
    for idx in np.ndindex(X.shape):
        out = fun(np.array([X[idx], Y[idx]]))
        Z[idx] = out[0] if isinstance(out, tuple) else out
    return Z


def saddle_path(path, fun=None, *, ax=None, extent=None, resolution=120, levels=30, saddle=None, cmap="viridis",
                color="C3", label=None):
    """The iterates of a saddle search on a contour plot of a 2-D potential.

    Parameters
    ----------
    path : OptimizeResult or array_like, shape (k, 2)
        The result of `curvopt.find_saddle` run with
        ``options={'return_all': True}`` (its ``allvecs``), or the points.
    fun : callable, optional
        The potential, ``fun(p) -> float`` or ``(float, gradient)`` (the
        ``jac=True`` form), for the filled contours; none when None.
    ax : Axes, optional
        Where to draw; a new figure when None.
    extent : (xmin, xmax, ymin, ymax), optional
        The window; default the path's bounding box with 30% margin.
    resolution : int
        Grid points per side where `fun` is evaluated (one call each).
    levels : int or array_like
        Contour levels: explicit values, or the number of levels from the
        minimum over the window up to the median over the window or the
        highest value on the path, whichever is larger (higher values are
        drawn in the top colour, so that deep wells are not washed out by
        the steep walls).
    saddle : array_like, shape (2,), optional
        A point to mark with a star; default the result's ``x`` when `path`
        is a successful `find_saddle` result.
    cmap : str or Colormap
        Of the filled contours.
    color : color
        Of the path.
    label : str, optional
        Legend label of the path; default ``'path (k steps)'``.

    Returns
    -------
    Axes

    Notes
    -----
    Several searches go on one Axes by calling again with the same `ax`
    and `extent` and ``fun=None`` (the contours are drawn once); the start
    and saddle markers enter the legend once.
    """
    is_result = isinstance(path, Mapping) and "x" in path
    if is_result:
        if "allvecs" not in path:
            raise ValueError(
                "`path` is an OptimizeResult without 'allvecs': run find_saddle with "
                "options={'return_all': True}, or pass the points as an array"
            )
        points = np.asarray(path["allvecs"], dtype=float)
        if saddle is None and path.get("success", False):
            saddle = path["x"]
    else:
        points = np.asarray(path, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 1:
        raise ValueError(f"`path` must hold points of a 2-D problem, shape (k, 2); got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError("`path` must be finite")
    if fun is not None and not callable(fun):
        raise TypeError(f"`fun` must be callable or None; got {type(fun).__name__}")
    resolution = int(resolution)
    if resolution < 2:
        raise ValueError(f"`resolution` must be an integer >= 2; got {resolution}")
    if extent is None:
        lo, hi = points.min(0), points.max(0)
        pad = 0.3 * np.maximum(hi - lo, 1e-3 * np.maximum(1.0, np.abs(hi)))
        extent = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    extent = tuple(float(e) for e in extent)
    if len(extent) != 4 or not (extent[0] < extent[1] and extent[2] < extent[3]):
        raise ValueError(f"`extent` must be (xmin, xmax, ymin, ymax) with min < max; got {extent!r}")

    ax = _new_axes(ax)
    if fun is not None:
        X, Y = np.meshgrid(np.linspace(extent[0], extent[1], resolution),
                           np.linspace(extent[2], extent[3], resolution))
        Z = _evaluate_2d(fun, X, Y)
        if isinstance(levels, numbers.Integral):
            on_path = max(_evaluate_2d(fun, points[:, :1], points[:, 1:]).max(), np.median(Z))
            top = min(on_path, Z.max())
            levels = np.linspace(Z.min(), top, int(levels)) if top > Z.min() else int(levels)
            Z = np.minimum(Z, top)
        ax.contourf(X, Y, Z, levels=levels, cmap=cmap, extend="both")
        ax.contour(X, Y, Z, levels=levels, colors="k", linewidths=0.3, alpha=0.5)
    if saddle is not None:
        saddle = np.asarray(saddle, dtype=float).ravel()
        if saddle.shape != (2,):
            raise ValueError(f"`saddle` must be a point (x, y); got shape {saddle.shape}")
    shown = {line.get_label() for line in ax.get_lines()}
    ax.plot(points[:, 0], points[:, 1], color=color, marker=".", markersize=5, linewidth=1.2,
            label=f"path ({len(points) - 1} steps)" if label is None else label)
    ax.plot(points[0, 0], points[0, 1], "o", color="w", markeredgecolor="k", markersize=8,
            label="_start" if "start" in shown else "start")
    if saddle is not None:
        ax.plot(saddle[0], saddle[1], "*", color="gold", markeredgecolor="k", markersize=16,
                label="_saddle" if "saddle" in shown else "saddle")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="best")
    return ax
