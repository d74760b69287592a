"""The device tests run on the fake device (ember.testing.fake_device): arrays that refuse
silent conversion to the host and mixing with host arrays, like CuPy's. Set
EMBER_TEST_DEVICE=cuda to replay them on a real GPU."""
import os

import pytest

import ember.testing.fake_device  # noqa: F401  (registers the "fake" device type)

DEVICE = os.environ.get("EMBER_TEST_DEVICE", "fake")


@pytest.fixture
def device():
    return DEVICE
