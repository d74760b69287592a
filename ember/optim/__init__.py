"""Optimizers, learning-rate schedules and parameter averaging (PyTorch's ``torch.optim``
names, defaults and update rules: trajectories match step for step).

    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    sched = ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    for x, y in loader:
        opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    sched.step()

Every name loads its module on first use (PEP 562), so ``import ember`` stays small.
"""
from .._lazy import lazy as _lazy

_NAMES = {
    "optimizer": ("Optimizer",), "sgd": ("SGD",), "adam": ("Adam", "AdamW", "NAdam"),
    "rmsprop": ("RMSprop", "Adagrad", "Adadelta"), "lbfgs": ("LBFGS",),
    "averaging": ("ExponentialMovingAverage", "average_checkpoints"),
}
__getattr__, __dir__ = _lazy(__name__, globals(), {
    **{m: "." + m for m in ("lr_scheduler", *_NAMES)},
    **{n: f".{m}:{n}" for m, names in _NAMES.items() for n in names},
})

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "NAdam", "RMSprop", "Adagrad", "Adadelta",
           "LBFGS", "lr_scheduler", "ExponentialMovingAverage", "average_checkpoints"]
