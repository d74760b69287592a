"""More layers through ember.onnx.export, each at the example's size and, with a dynamic
first axis, at a larger one: 1-D convolution and pooling, adaptive pooling, cells, Keras's
sequence layers, and an unbatched RNN whose time axis is dynamic."""
import numpy as np
import pytest

import ember
import ember.nn as nn

from ._export_util import export_and_compare


def _cases():
    from ember.keras import layers, models
    return {
        "conv1d": (lambda: nn.Sequential(nn.Conv1d(3, 4, 3, padding=1), nn.MaxPool1d(2),
                                         nn.AdaptiveAvgPool1d(1)), (2, 3, 8)),
        "adaptive2d": (lambda: nn.Sequential(nn.AdaptiveAvgPool2d((2, 3)),
                                             nn.AdaptiveMaxPool2d(1)), (2, 3, 7, 5)),
        "maxout": (lambda: nn.Maxout(4, 3, 2), (2, 4)),
        "unflatten": (lambda: nn.Sequential(nn.Flatten(), nn.Unflatten(1, (2, 6))), (2, 3, 4)),
        "gru_cell": (lambda: nn.GRUCell(3, 4), (2, 3)),
        "lstm_cell": (lambda: nn.LSTMCell(3, 4), (2, 3)),
        "rnn_unbatched_time": (lambda: nn.LSTM(3, 4), (5, 3)),
        "keras_gru_simplernn": (lambda: models.Sequential([
            layers.GRU(4, return_sequences=True, input_shape=(5, 3)), layers.SimpleRNN(3)]),
            (2, 5, 3)),
        "keras_bidirectional": (lambda: models.Sequential([
            layers.Bidirectional(layers.LSTM(4), input_shape=(5, 3)), layers.Dense(2)]),
            (2, 5, 3)),
        "keras_embedding_conv1d": (lambda: models.Sequential([
            layers.Embedding(10, 4, input_shape=(5,)), layers.Conv1D(3, 2),
            layers.GlobalAveragePooling1D()]), "int"),
        "keras_pool1d": (lambda: models.Sequential([
            layers.Conv1D(3, 2, input_shape=(6, 2)), layers.MaxPooling1D(2),
            layers.GlobalMaxPooling1D()]), (2, 6, 2)),
        "keras_time_distributed": (lambda: models.Sequential([
            layers.TimeDistributed(layers.Dense(3), input_shape=(4, 2))]), (2, 4, 2)),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_layer_fixed_and_dynamic_first_axis(name):
    make, shape = _cases()[name]
    model = make()
    if shape == "int":
        x = ember.tensor(np.arange(10).reshape(2, 5))
        bigger = ember.tensor(np.arange(15).reshape(3, 5) % 10)
    else:
        x = ember.randn(*shape)
        bigger = ember.randn(shape[0] + 2, *shape[1:])
    export_and_compare(model, x)
    export_and_compare(model, x, run_args=bigger, dynamic_axes={"input": {0: "n"}})
