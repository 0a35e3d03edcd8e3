"""The fixed-dimension problems of Moré, Garbow & Hillstrom (1981), problems 1-19.

Minimum values
--------------
Zero-residual problems have ``f_min = 0`` exactly.  For the others MGH print
six significant digits; the values stored here were refined once, outside
curvopt, with scipy: ``scipy.optimize.minimize(method='trust-exact',
gtol=1e-12)`` on the automatically differentiated objective, followed by
``scipy.optimize.least_squares(method='lm', xtol=ftol=gtol=1e-15)`` and a few
Newton steps, keeping the lowest value.  Every refined value agrees with all
the digits MGH publish (checked by the test suite).  The numerical minimizers
stored as `x_min` come from the same refinement.

References
----------
.. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
   optimization software", ACM Trans. Math. Software 7(1):17-41, 1981.
"""

from __future__ import annotations

import numpy as np

from . import _mgh_residuals as res
from . import _small_kernels as small
from ._build import build_problem, mgh_reference

def _small_fast(prefix):
    """Plain-Python kernels of `_small_kernels` wrapped to accept any array_like."""
    fun_k = getattr(small, prefix + "_fun")
    jac_k = getattr(small, prefix + "_jac")
    hess_k = getattr(small, prefix + "_hess")

    def fun(x):
        return float(fun_k(np.asarray(x, dtype=np.float64)))

    def jac(x):
        return jac_k(np.asarray(x, dtype=np.float64))

    def hess(x):
        return hess_k(np.asarray(x, dtype=np.float64))

    def hessp(x, p):
        return hess_k(np.asarray(x, dtype=np.float64)) @ np.asarray(p, dtype=np.float64)

    return {"fun": fun, "jac": jac, "hess": hess, "hessp": hessp}


def _small_numba(prefix):
    from . import _numba_kernels as nk

    return (getattr(nk, prefix + "_fun"), getattr(nk, prefix + "_jac"), getattr(nk, prefix + "_hessp"))


def rosenbrock():
    """MGH 1, Rosenbrock: ``f = 100 (x2 - x1^2)^2 + (1 - x1)^2``, minimum 0 at (1, 1)."""
    from ._scalable import chained_rosenbrock

    base = chained_rosenbrock(2)
    return build_problem(
        name="rosenbrock", x0=[-1.2, 1.0], residual=res.rosenbrock,
        fast={"fun": base.fun, "jac": base.jac, "hessp": base.hessp, "hess": base.hess},
        numba=(base.numba_fun, base.numba_jac, base.numba_hessp),
        f_min=0.0, x_min=[1.0, 1.0], reference=mgh_reference(1),
        tags={"mgh", "zero-residual"})


def freudenstein_roth():
    """MGH 2, Freudenstein and Roth: minimum 0 at (5, 4), local minimum 48.98425... at (11.41, -0.8968)."""
    return build_problem(
        name="freudenstein_roth", x0=[0.5, -2.0], residual=res.freudenstein_roth,
        fast=_small_fast("freudenstein_roth"), numba=_small_numba("freudenstein_roth"),
        f_min=0.0, x_min=[5.0, 4.0],
        # local minimum, refined with scipy (MGH: 48.9842); every scipy method tried ends here from x0
        f_local=(48.98425367924,),
        reference=mgh_reference(2), tags={"mgh", "zero-residual"},
        notes="From x0 local methods typically end in the local minimum 48.98425... "
              "at (11.4128, -0.896805).")


def powell_badly_scaled():
    """MGH 3, Powell badly scaled: minimum 0 at (1.098e-5, 9.106)."""
    return build_problem(
        name="powell_badly_scaled", x0=[0.0, 1.0], residual=res.powell_badly_scaled,
        fast=_small_fast("powell_badly_scaled"), numba=_small_numba("powell_badly_scaled"),
        f_min=0.0, x_min=[1.0981593296998516e-05, 9.1061467398662419],
        reference=mgh_reference(3), tags={"mgh", "zero-residual", "badly-scaled"})


def brown_badly_scaled():
    """MGH 4, Brown badly scaled: minimum 0 at (1e6, 2e-6)."""
    return build_problem(
        name="brown_badly_scaled", x0=[1.0, 1.0], residual=res.brown_badly_scaled,
        fast=_small_fast("brown_badly_scaled"), numba=_small_numba("brown_badly_scaled"),
        f_min=0.0, x_min=[1e6, 2e-6],
        reference=mgh_reference(4), tags={"mgh", "zero-residual", "badly-scaled"})


def beale():
    """MGH 5, Beale: minimum 0 at (3, 0.5)."""
    return build_problem(
        name="beale", x0=[1.0, 1.0], residual=res.beale,
        fast=_small_fast("beale"), numba=_small_numba("beale"),
        f_min=0.0, x_min=[3.0, 0.5], reference=mgh_reference(5), tags={"mgh", "zero-residual"})


def jennrich_sampson():
    """MGH 6, Jennrich and Sampson (m = 10): minimum 124.362... at x1 = x2 = 0.2578."""
    return build_problem(
        name="jennrich_sampson", x0=[0.3, 0.4], residual=res.jennrich_sampson,
        f_min=124.362182355615,  # refined with scipy (MGH: 124.362)
        x_min=[0.25782521359213045, 0.2578252137981544],
        reference=mgh_reference(6), tags={"mgh", "nonzero-residual"})


def helical_valley():
    """MGH 7, helical valley: minimum 0 at (1, 0, 0)."""
    return build_problem(
        name="helical_valley", x0=[-1.0, 0.0, 0.0], residual=res.helical_valley,
        fast=_small_fast("helical_valley"), numba=_small_numba("helical_valley"),
        f_min=0.0, x_min=[1.0, 0.0, 0.0], reference=mgh_reference(7), tags={"mgh", "zero-residual"},
        notes="theta(x1, x2) jumps across x1 = 0, x2 < 0 (where MGH leave it undefined).")


def bard():
    """MGH 8, Bard: minimum 8.21487...e-3."""
    return build_problem(
        name="bard", x0=[1.0, 1.0, 1.0], residual=res.bard,
        f_min=8.21487730657897e-3,  # refined with scipy (MGH: 8.21487e-3)
        x_min=[0.08241055888266388, 1.13303605361685, 2.343695215873724],
        reference=mgh_reference(8), tags={"mgh", "nonzero-residual"},
        notes="MGH also list f = 17.4286 approached as x2, x3 -> -infinity (not attained).")


def gaussian():
    """MGH 9, Gaussian: minimum 1.12793...e-8."""
    return build_problem(
        name="gaussian", x0=[0.4, 1.0, 0.0], residual=res.gaussian,
        f_min=1.12793276961894e-8,  # refined with scipy (MGH: 1.12793e-8)
        x_min=[0.39895613783875666, 1.0000190844878059, 0.0],
        reference=mgh_reference(9), tags={"mgh", "nonzero-residual"})


def meyer():
    """MGH 10, Meyer: minimum 87.9458... at (0.0056096, 6181.35, 345.224)."""
    return build_problem(
        name="meyer", x0=[0.02, 4000.0, 250.0], residual=res.meyer,
        f_min=87.945855170637,  # refined with scipy (MGH: 87.9458)
        x_min=[5.609636471055514e-03, 6.181346346282236e+03, 3.452236346239955e+02],
        reference=mgh_reference(10), tags={"mgh", "nonzero-residual", "badly-scaled"})


def gulf_research():
    """MGH 11, Gulf research and development (m = 99): minimum 0 at (50, 25, 1.5)."""
    return build_problem(
        name="gulf_research", x0=[5.0, 2.5, 0.15], residual=res.gulf_research,
        f_min=0.0, x_min=[50.0, 25.0, 1.5], reference=mgh_reference(11),
        tags={"mgh", "zero-residual"},
        notes=f"m = {res.GULF_M} residuals (MGH allow 3 <= m <= 100).")


def box_3d():
    """MGH 12, Box three-dimensional (m = 10): minimum 0 at (1, 10, 1), (10, 1, -1) and on x1 = x2, x3 = 0."""
    return build_problem(
        name="box_3d", x0=[0.0, 10.0, 20.0], residual=res.box_3d,
        f_min=0.0, x_min=[1.0, 10.0, 1.0], reference=mgh_reference(12),
        tags={"mgh", "zero-residual"},
        notes="The minimizer is not unique: x_min is one of (1, 10, 1), (10, 1, -1), (t, t, 0).")


def powell_singular():
    """MGH 13, Powell singular: minimum 0 at the origin, where the Hessian is singular."""
    from ._scalable import extended_powell

    base = extended_powell(4)
    return build_problem(
        name="powell_singular", x0=[3.0, -1.0, 0.0, 1.0], residual=res.powell_singular,
        fast={"fun": base.fun, "jac": base.jac, "hessp": base.hessp, "hess": base.hess},
        numba=(base.numba_fun, base.numba_jac, base.numba_hessp),
        f_min=0.0, x_min=np.zeros(4), reference=mgh_reference(13),
        tags={"mgh", "zero-residual", "singular-hessian"})


def wood():
    """MGH 14, Wood: minimum 0 at (1, 1, 1, 1)."""
    return build_problem(
        name="wood", x0=[-3.0, -1.0, -3.0, -1.0], residual=res.wood,
        fast=_small_fast("wood"), numba=_small_numba("wood"),
        f_min=0.0, x_min=np.ones(4), reference=mgh_reference(14), tags={"mgh", "zero-residual"},
        notes="Has a saddle point with f = 7.876967... near (-0.968, 0.947, -0.970, 0.951) "
              "where first-order methods may stall; it is not a local minimum.")


def kowalik_osborne():
    """MGH 15, Kowalik and Osborne: minimum 3.07505...e-4."""
    return build_problem(
        name="kowalik_osborne", x0=[0.25, 0.39, 0.415, 0.39], residual=res.kowalik_osborne,
        f_min=3.07505603849237e-4,  # refined with scipy (MGH: 3.07505e-4)
        x_min=[0.19280693465102058, 0.19128232310950605, 0.12305650447371647, 0.1360623281630535],
        reference=mgh_reference(15), tags={"mgh", "nonzero-residual"},
        notes="MGH also list f = 1.02734e-3 approached at infinity (not attained).")


def brown_dennis():
    """MGH 16, Brown and Dennis (m = 20): minimum 85822.2..."""
    return build_problem(
        name="brown_dennis", x0=[25.0, 5.0, -5.0, -1.0], residual=res.brown_dennis,
        f_min=85822.2016263563,  # refined with scipy (MGH: 85822.2)
        x_min=[-11.59443991865328, 13.203630055581392, -0.4034394877030014, 0.2367787730931701],
        reference=mgh_reference(16), tags={"mgh", "nonzero-residual"})


def osborne_1():
    """MGH 17, Osborne 1: minimum 5.46489...e-5."""
    return build_problem(
        name="osborne_1", x0=[0.5, 1.5, -1.0, 0.01, 0.02], residual=res.osborne_1,
        f_min=5.46489469748255e-5,  # refined with scipy (MGH: 5.46489e-5)
        x_min=[0.37541005210694756, 1.9358469127118416, -1.464687136612894,
               0.012867534640056225, 0.02212269966167474],
        reference=mgh_reference(17), tags={"mgh", "nonzero-residual"})


def biggs_exp6():
    """MGH 18, Biggs EXP6 (m = 13): minimum 0 at (1, 10, 1, 5, 4, 3), local minimum 5.65565e-3."""
    return build_problem(
        name="biggs_exp6", x0=[1.0, 2.0, 1.0, 1.0, 1.0, 1.0], residual=res.biggs_exp6,
        f_min=0.0, x_min=[1.0, 10.0, 1.0, 5.0, 4.0, 3.0],
        f_local=(5.65564992549993e-3,),  # refined with scipy (MGH: 5.65565e-3); BFGS/trust-ncg end here
        reference=mgh_reference(18), tags={"mgh", "zero-residual"},
        notes="The global minimizer is not unique (permutations of the exponential terms, "
              "e.g. (4, 10, 3, 5, 1, 1)). The point where scipy's BFGS and trust-ncg stop from x0, "
              "f = 5.65565e-3 with x1 = x5 and x3 = x6 (two exponential terms merged), is a saddle: "
              "the explicit Hessian there has the eigenvalue -9.8e-3. Its value stays in f_local as the "
              "stationary value methods without a curvature check report.")


def osborne_2():
    """MGH 19, Osborne 2: minimum 4.01377...e-2."""
    return build_problem(
        name="osborne_2", x0=[1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5],
        residual=res.osborne_2,
        f_min=4.01377362935477e-2,  # refined with scipy (MGH: 4.01377e-2)
        x_min=[1.3099771546171544, 0.4315537945709879, 0.6336616989556058, 0.5994305347568998,
               0.7541832262391788, 0.9042885800397855, 1.3658118350433603, 4.823698817491365,
               2.3986848661446873, 4.5688745976702965, 5.675341470591114],
        reference=mgh_reference(19), tags={"mgh", "nonzero-residual"})


#: name -> builder, in MGH order.
FIXED_BUILDERS = {
    "rosenbrock": rosenbrock,
    "freudenstein_roth": freudenstein_roth,
    "powell_badly_scaled": powell_badly_scaled,
    "brown_badly_scaled": brown_badly_scaled,
    "beale": beale,
    "jennrich_sampson": jennrich_sampson,
    "helical_valley": helical_valley,
    "bard": bard,
    "gaussian": gaussian,
    "meyer": meyer,
    "gulf_research": gulf_research,
    "box_3d": box_3d,
    "powell_singular": powell_singular,
    "wood": wood,
    "kowalik_osborne": kowalik_osborne,
    "brown_dennis": brown_dennis,
    "osborne_1": osborne_1,
    "biggs_exp6": biggs_exp6,
    "osborne_2": osborne_2,
}
