"""examples/calibration.py: the structural model is estimated, and the truth recovered.

The example simulates Rust's bus-engine model from known parameters with a fixed seed; the
estimates must lie within 3 standard errors of those parameters (the independent reference is the
truth), agree with scipy's L-BFGS-B on the same likelihood, and the model must never be solved
outside its bounds (it raises for a discount factor >= 1).
"""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "calibration.py"


@pytest.fixture(scope="module")
def calibration():
    name = "curvopt_examples_calibration"
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    # registered before it runs, so that numba's on-disk cache can refer to the module by name
    sys.modules[name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def outcome(calibration):
    # a smaller panel than the example's default (same model, same code path)
    return calibration.main(n_buses=150, n_periods=80, n_states=60, seed=3, verbose=False)


def test_recovers_true_parameters_within_three_standard_errors(outcome):
    res = outcome["result"]
    assert res.success, res.message
    se = outcome["se"]
    assert np.all(np.isfinite(se)) and np.all(se > 0)
    z = (outcome["estimate"] - outcome["true"]) / se
    assert np.all(np.abs(z) < 3.0), z
    z_robust = (outcome["estimate"] - outcome["true"]) / outcome["se_robust"]
    assert np.all(np.abs(z_robust) < 3.0), z_robust


def test_agrees_with_lbfgsb(outcome):
    ref = outcome["lbfgsb"]
    assert ref.success
    # the same maximum of the likelihood, far inside the sampling error
    np.testing.assert_allclose(outcome["estimate"], ref.x, atol=1e-3 * outcome["se"].min())
    assert outcome["result"].fun <= ref.fun + 1e-12


def test_model_raises_outside_its_domain(calibration):
    counts = np.ones((10, 2))
    with pytest.raises(ValueError, match="discount factor"):
        calibration.mean_nll_and_gradient(np.array([8.0, 1.0, 1.0]), counts, calibration.MILEAGE_STEPS)


def test_gradient_is_the_derivative_of_the_likelihood(calibration):
    # the implicit-function-theorem gradient against central differences of the value
    counts = calibration.simulate(calibration.TRUE_THETA, 50, 40, 30, seed=1)
    theta = np.array([6.0, 1.5, 0.85])
    f, g = calibration.mean_nll_and_gradient(theta, counts, calibration.MILEAGE_STEPS)
    h = 1e-6
    fd = np.array([(calibration.mean_nll_and_gradient(theta + h * e, counts, calibration.MILEAGE_STEPS)[0]
                    - calibration.mean_nll_and_gradient(theta - h * e, counts, calibration.MILEAGE_STEPS)[0]) / (2 * h)
                   for e in np.eye(3)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)
