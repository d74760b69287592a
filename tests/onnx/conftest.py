import pytest


@pytest.fixture(autouse=True)
def _keras_layer_names():
    """Keras layers number their automatic names per process (dense, dense_1, ...); the
    export tests put the counters back so later tests see the names a fresh process gives."""
    from ember.keras import layers
    saved = dict(layers._name_counts)
    yield
    layers._name_counts.clear()
    layers._name_counts.update(saved)
