"""Optimizers, learning-rate schedules and parameter averaging (PyTorch's ``torch.optim``
names, defaults and update rules: trajectories match step for step).

    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    sched = ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    for x, y in loader:
        opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    sched.step()
"""
from . import lr_scheduler
from .adam import Adam, AdamW, NAdam
from .averaging import ExponentialMovingAverage, average_checkpoints
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .rmsprop import Adadelta, Adagrad, RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "NAdam", "RMSprop", "Adagrad", "Adadelta",
           "LBFGS", "lr_scheduler", "ExponentialMovingAverage", "average_checkpoints"]
