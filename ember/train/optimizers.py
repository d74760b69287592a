"""Keras-style optimizer specs: an optimizer chosen before the model's weights exist
(``compile(optimizer='rmsprop')`` or ``keras.optimizers.RMSprop(learning_rate=1e-3)``) and built
on the trainable parameters when training starts.

Defaults and update rules are Keras's (they differ from PyTorch's: RMSprop rho=0.9, eps=1e-7 and
a division by sqrt(v + eps); Adam eps=1e-7 added to the uncorrected sqrt(v); SGD's velocity holds
-lr * g; weight decay is decoupled), so a textbook Keras recipe behaves as in the book. The rules
are written out in :mod:`ember.train.keras_rules`; ``ember.optim`` keeps PyTorch's.
"""


class OptimizerSpec:
    """``build(params)`` makes the ember.optim optimizer."""

    def __init__(self, cls_name, **kwargs):
        self.cls_name = cls_name
        self.kwargs = kwargs

    def build(self, params):
        from . import keras_rules
        return getattr(keras_rules, "Keras" + self.cls_name)(params, **self.kwargs)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.cls_name}({args})"


def _accepts_lr(fn):
    """Keras 2 and the first-edition textbooks spell learning_rate ``lr``: accept both."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, lr=None, **kwargs):
        if lr is not None:
            if "learning_rate" in kwargs:
                raise TypeError(f"{fn.__name__}: give learning_rate or lr, not both")
            kwargs["learning_rate"] = lr
        return fn(*args, **kwargs)

    return wrapper


@_accepts_lr
def SGD(learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
    return OptimizerSpec("SGD", lr=learning_rate, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay)


@_accepts_lr
def RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
            weight_decay=0.0):
    return OptimizerSpec("RMSprop", lr=learning_rate, rho=rho, momentum=momentum, eps=epsilon,
                         centered=centered, weight_decay=weight_decay)


@_accepts_lr
def Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
         weight_decay=0.0):
    return OptimizerSpec("Adam", lr=learning_rate, betas=(beta_1, beta_2), eps=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay)


@_accepts_lr
def AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    return OptimizerSpec("Adam", lr=learning_rate, weight_decay=weight_decay,
                         betas=(beta_1, beta_2), eps=epsilon)


@_accepts_lr
def Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
    return OptimizerSpec("Adagrad", lr=learning_rate,
                         initial_accumulator_value=initial_accumulator_value, eps=epsilon)


@_accepts_lr
def Adadelta(learning_rate=0.001, rho=0.95, epsilon=1e-7):
    return OptimizerSpec("Adadelta", lr=learning_rate, rho=rho, eps=epsilon)


@_accepts_lr
def Nadam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    return OptimizerSpec("Nadam", lr=learning_rate, betas=(beta_1, beta_2), eps=epsilon)


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad,
            "adadelta": Adadelta, "nadam": Nadam}


def get(optimizer):
    """A spec from a name ('rmsprop', 'adam', 'sgd', ...) or a spec."""
    if isinstance(optimizer, OptimizerSpec):
        return optimizer
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in _BY_NAME:
            raise ValueError(f"unknown optimizer {optimizer!r}; known: {sorted(_BY_NAME)}, or "
                             "pass an ember.optim optimizer")
        return _BY_NAME[key]()
    raise TypeError(f"optimizer must be a name, an ember.optim.Optimizer or a keras optimizer, "
                    f"got {optimizer!r}")
