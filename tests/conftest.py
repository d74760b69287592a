import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ember  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0)
    yield


def torch_or_skip():
    """The torch module, or a visible skip: torch is the reference oracle (pip install .[ref])."""
    return pytest.importorskip("torch", reason="PyTorch not installed: reference comparison "
                                               "skipped (pip install -e .[ref])")
