"""Optimizers, learning-rate schedules and parameter averaging (PyTorch's ``torch.optim``
names, defaults and update rules: trajectories match step for step).

    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    sched = ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    for x, y in loader:
        opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    sched.step()
"""
from .._lazy import lazy as _lazy
from .adam import Adam, AdamW, NAdam
from .optimizer import Optimizer
from .rmsprop import Adadelta, Adagrad, RMSprop
from .sgd import SGD

# schedules, averaging and L-BFGS load on first use (kept out of `import ember`)
__getattr__, __dir__ = _lazy(__name__, globals(), {
    "lr_scheduler": ".lr_scheduler", "averaging": ".averaging", "lbfgs": ".lbfgs",
    "ExponentialMovingAverage": ".averaging:ExponentialMovingAverage",
    "average_checkpoints": ".averaging:average_checkpoints", "LBFGS": ".lbfgs:LBFGS",
})

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "NAdam", "RMSprop", "Adagrad", "Adadelta",
           "LBFGS", "lr_scheduler", "ExponentialMovingAverage", "average_checkpoints"]
