import numpy as np
import pytest

from curvopt.testing import Counted


@pytest.fixture
def counted():
    return Counted


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
