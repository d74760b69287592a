"""Training callbacks under the name Keras users know: ``ember.callbacks.TensorBoard``,
``ember.callbacks.EarlyStopping``, ... (the same classes as ``ember.train.callbacks``)."""
from .train.callbacks import (BatchSizeScheduler, Callback, CallbackList, CSVLogger,  # noqa: F401
                              EarlyStopping, History, LambdaCallback, LearningRateScheduler,
                              ModelCheckpoint, ReduceLROnPlateau, TensorBoard, TerminateOnNaN)
