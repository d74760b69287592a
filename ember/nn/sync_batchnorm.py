"""SyncBatchNorm: batch normalisation whose training statistics cover the batches of every
process of a data-parallel job (PyTorch's name)."""
import numpy as np

from ..ops import nn_layers as _lay
from ..ops.nn_sync_bn import SyncBatchNormTrain
from . import functional as F
from .layers import BatchNorm1d, BatchNorm2d, _BatchNorm
from .module import Module


def _group(process_group):
    if process_group is not None:
        return process_group
    from .. import distributed as dist
    if not dist.is_initialized():
        return None
    from ..distributed.group import default_group
    return default_group()


class SyncBatchNorm(_BatchNorm):
    """Batch norm over (N, C, ...) whose training-mode mean and variance are those of the
    union of all ranks' batches (counts, means and squared deviations are gathered and
    combined exactly); backward all-reduces the two gradient sums, so 2 processes x batch 64
    compute what 1 process x batch 128 computes. Running statistics are updated from the
    global statistics (with the global count's unbiased variance), so they agree on all
    ranks. Evaluation mode uses them, as BatchNorm. Without a process group (or with one
    process) it is plain batch norm. ``process_group`` defaults to the default group.

    ``SyncBatchNorm.convert_sync_batchnorm(module)`` replaces every BatchNorm1d/2d in a model.
    """

    _expected_dims = (2, 3, 4, 5)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)
        self.process_group = process_group

    def forward(self, x):
        group = _group(self.process_group) if self.training else None
        if group is None or group.size == 1:
            return super().forward(x)
        if x.ndim not in self._expected_dims or x.shape[1] != self.num_features:
            return super().forward(x)  # the shape errors of BatchNorm
        out, mean, var, count = SyncBatchNormTrain.apply(x, self.weight, self.bias,
                                                         eps=self.eps, group=group)
        if self.track_running_stats:
            n = self.num_batches_tracked + 1
            F.assign_(self.num_batches_tracked, n)
            momentum = self.momentum
            if momentum is None:
                momentum = 1.0 / n.astype(np.float64)
            total = int(count.data)
            if total <= 1:
                raise ValueError(f"SyncBatchNorm({self.num_features}): expected more than 1 "
                                 f"value per channel over all ranks, got {total}")
            rm, rv = _lay.BatchNormRunningStats.apply(self.running_mean, self.running_var, mean,
                                                      var, momentum, count=total)
            F.assign_(self.running_mean, rm)
            F.assign_(self.running_var, rv)
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with each BatchNorm1d / BatchNorm2d replaced by a SyncBatchNorm that
        keeps its parameters, buffers and training mode (returned; a BatchNorm itself is
        returned converted)."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d)) and not isinstance(module, cls):
            new = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            for name in ("weight", "bias"):
                if getattr(module, name) is not None:
                    setattr(new, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                new._buffers[name] = module._buffers[name]
            new.train(module.training)
            return new
        for name, child in list(module._modules.items()):
            if child is not None:
                new = cls.convert_sync_batchnorm(child, process_group)
                if new is not child:
                    module._modules[name] = new
        return module
