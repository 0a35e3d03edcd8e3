import numpy as np
import pytest


class Counted:
    """Wraps a callable and counts its calls: the independent count the result's counters must match."""

    def __init__(self, function):
        self.function = function
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)


@pytest.fixture
def counted():
    return Counted


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
