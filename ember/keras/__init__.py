"""Keras names over ember's engine, so textbook Keras code runs with one changed import::

    from ember.keras import models, layers, optimizers, utils, datasets

    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist.load_data()
    model = models.Sequential([layers.Dense(512, activation="relu", input_shape=(784,)),
                               layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train.reshape(-1, 784) / 255, utils.to_categorical(y_train), epochs=5,
              batch_size=128)
"""
from types import SimpleNamespace

from . import datasets, layers, models, utils
from ..train import callbacks, losses, metrics
from ..train import optimizers
from .layers import Input
from .models import Sequential

__all__ = ["datasets", "layers", "models", "utils", "optimizers", "callbacks", "losses",
           "metrics", "Input", "Sequential"]
