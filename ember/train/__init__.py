"""Keras-style training: Model (compile / fit / evaluate / predict), callbacks, metrics, progress."""
from . import callbacks, inputs, keras_rules, losses, metrics, optimizers
from .callbacks import (BatchSizeScheduler, Callback, CSVLogger, EarlyStopping, History,
                        LambdaCallback, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau,
                        TerminateOnNaN)
from .inputs import InputError
from .model import Model, Sequential
