"""Keras-style training: Model (compile / fit / evaluate / predict), callbacks, metrics, progress."""
from . import callbacks, losses, metrics, optimizers
from .callbacks import (BatchSizeScheduler, Callback, CSVLogger, EarlyStopping, History,
                        LambdaCallback, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau,
                        TerminateOnNaN)
from .model import Model, Sequential
