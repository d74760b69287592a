"""Synchronised batch normalisation: the batch statistics of all processes of a data-parallel
job, as if their batches were one.

Forward: each rank computes its count n_r, mean m_r and M2_r = sum (x - m_r)^2 per channel;
the triples are gathered and combined exactly (Chan et al.):
    N = sum n_r,  mean = sum n_r m_r / N,  var = (sum M2_r + n_r (m_r - mean)^2) / N.
Backward: with the global sums S_g = sum g and S_gx = sum g xhat (all-reduced),
    dx = gamma invstd (g - S_g / N - xhat S_gx / N),
while d gamma and d beta stay this rank's sums (DistributedDataParallel averages them like
any gradient). ``group`` is the process group (None: this process alone, i.e. BatchNorm).
"""
from ..backend import get_array_module
from .function import Function


def _gather(group, a):
    if group is None:
        return a[None]
    from ..distributed.collectives import allgather_array
    return allgather_array(a, group)


def _allreduce(group, a):
    if group is None:
        return a
    from ..distributed.collectives import allreduce_array
    return allreduce_array(a, group)


class SyncBatchNormTrain(Function):
    """Training-mode batch norm over the union of every rank's batch. Outputs
    (y, mean, var, count): the global statistics (biased var) and the global number of
    values per channel, for the running averages."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, x, gamma=None, beta=None, eps=1e-5, group=None):
        xp = get_array_module(x)
        axes = (0,) + tuple(range(2, x.ndim))
        bs = (1, -1) + (1,) * (x.ndim - 2)
        n = x.size // x.shape[1]
        x64 = x.astype(xp.float64)
        m = x64.mean(axis=axes)
        d = x64 - m.reshape(bs)
        m2 = (d * d).sum(axis=axes)
        local = xp.concatenate([xp.full(m.shape, float(n)), m, m2])
        parts = _gather(group, local).reshape(-1, 3, m.shape[0])  # (ranks, [n, m, M2], C)
        counts, means, m2s = parts[:, 0], parts[:, 1], parts[:, 2]
        total = counts.sum(axis=0)
        mean = (counts * means).sum(axis=0) / total
        var = (m2s + counts * (means - mean) ** 2).sum(axis=0) / total
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype)
        xhat = ((x64 - mean.reshape(bs)).astype(x.dtype)) * invstd.reshape(bs)
        ctx.xhat, ctx.invstd, ctx.gamma, ctx.axes, ctx.bs = xhat, invstd, gamma, axes, bs
        ctx.has_beta, ctx.group, ctx.total = beta is not None, group, total.astype(x.dtype)
        out = xhat * gamma.reshape(bs) if gamma is not None else xhat.copy()
        if beta is not None:
            out += beta.reshape(bs)
        dt = x.dtype
        return out, mean.astype(dt), var.astype(dt), xp.asarray(total[0])

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        xhat, axes, bs = ctx.xhat, ctx.axes, ctx.bs
        gsum = g.sum(axis=axes)
        gxhat_sum = (g * xhat).sum(axis=axes)
        gx = ggamma = gbeta = None
        if ctx.needs[0]:
            both = _allreduce(ctx.group, xp.concatenate([gsum, gxhat_sum]))
            c = gsum.shape[0]
            scale = ctx.invstd if ctx.gamma is None else ctx.gamma * ctx.invstd
            gx = g - (both[:c] / ctx.total).reshape(bs)
            gx -= xhat * (both[c:] / ctx.total).reshape(bs)
            gx *= scale.reshape(bs)
        if ctx.gamma is not None and ctx.needs[1]:
            ggamma = gxhat_sum
        if ctx.has_beta and ctx.needs[2]:
            gbeta = gsum
        return gx, ggamma, gbeta
