"""Convolution and pooling primitives (NCHW in and out, as PyTorch).

conv2d (groups=1) works channels-last: the padded input (N, Hp, Wp, C) is gathered into columns
(N Ho Wo, kh kw C) by one strided copy (``ember.kernels``: NumPy ``as_strided`` or a numba
loop), and one GEMM with the weight (O, kh kw C) gives the output (N Ho Wo, O), which *is*
(N, Ho, Wo, O) in memory: the public NCHW tensor is a transposed view of it (PyTorch's
``channels_last`` memory format), so no layout copy is made. Pooling, activations and the
next convolution read that layout directly (``x.transpose(0, 2, 3, 1)`` of such a view is
contiguous), so between conv layers nothing is transposed. Backward reuses the columns for the
weight gradient (one GEMM); the input gradient is one GEMM per kernel position added into its
strided slab (NumPy) or one GEMM + a compiled col2im (numba). Columns are built in chunks of
whole images (``COLS_CHUNK``), kept for backward when the batch's fit ``KEEP_COLS``, else
rebuilt there chunk by chunk. With ``EMBER_CONV_THREADS=N`` (and threadpoolctl) the chunks are
split over N threads, each running its own copies and single-threaded GEMMs
(``ember.kernels.threads.run_parts``), so the memory-bound passes around the GEMMs use every
core as well (off by default: it lost to OpenBLAS's own threads on a quiet 2-core machine). Grouped convolutions keep a
batch-last im2col (C kh kw, Ho Wo N) with one GEMM per group.

Max pooling with tiling windows (kernel == stride, no padding) runs on the same channels-last
view (one pass in numba; a running max in NumPy) and records the winner of each window, so
its backward writes each input gradient element once without a scatter. Other windows use the
strided-slice loop over kernel positions.

Padding is given per side, ((top, bottom), (left, right)), so 'same' with even kernels
(asymmetric, as PyTorch) needs nothing special.

With the optional extra ``onednn`` installed, float32 convolutions (groups=1) of host arrays
run on oneDNN's convolution primitives instead (``ember.kernels.onednn_conv``), in the same
channels-last layout (the seed CNN's convolutions, quiet 2-core machine, forward + backward:
conv5x5x32 on 1 channel 10 ms against ember's 17-33 ms, conv5x5x64 on 32 channels 56-59 ms
against 99-105 ms; ``ONEDNN_MIN_CHANNELS`` keeps inputs with fewer channels on ember's
kernels, 1 = none). ``EMBER_ONEDNN=0`` turns this off.
"""
import numpy as np

from .. import kernels
from ..kernels import threads as _threads
from ..backend import get_array_module
from .function import Function


def out_size(n, k, s, pad_lo, pad_hi, d):
    """floor((n + pads - d (k - 1) - 1) / s) + 1."""
    return (n + pad_lo + pad_hi - d * (k - 1) - 1) // s + 1


def _pad(x, padding, value=0.0):
    (pt, pb), (pl, pr) = padding
    if not (pt or pb or pl or pr):
        return x
    n, c, h, w = x.shape
    xpad = get_array_module(x).full((n, c, h + pt + pb, w + pl + pr), value, x.dtype)
    xpad[:, :, pt:pt + h, pl:pl + w] = x
    return xpad


def _slice(i, j, ho, wo, stride, dilation):
    (s1, s2), (d1, d2) = stride, dilation
    return (slice(None), slice(None),
            slice(i * d1, i * d1 + s1 * (ho - 1) + 1, s1),
            slice(j * d2, j * d2 + s2 * (wo - 1) + 1, s2))


def _bl_im2col(xt, kh, kw, ho, wo, stride, dilation):
    """Columns (C, kh, kw, Ho, Wo, N) from a padded batch-last image (C, Hp, Wp, N): one strided
    copy per kernel position, each with long contiguous inner runs (Wo * N values)."""
    xp = get_array_module(xt)
    c, n = xt.shape[0], xt.shape[3]
    (s1, s2), (d1, d2) = stride, dilation
    cols = xp.empty((c, kh, kw, ho, wo, n), xt.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xt[:, i * d1:i * d1 + s1 * (ho - 1) + 1:s1,
                               j * d2:j * d2 + s2 * (wo - 1) + 1:s2]
    return cols


def _bl_col2im(cols, padded_shape, padding, stride, dilation):
    """Adjoint of im2col: add each kernel position's slab (C, Ho, Wo, N) into the padded
    batch-last image (C, Hp, Wp, N), then drop the padding."""
    xp = get_array_module(cols)
    c, kh, kw, ho, wo, n = cols.shape
    (s1, s2), (d1, d2) = stride, dilation
    dxt = xp.zeros(padded_shape, cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxt[:, i * d1:i * d1 + s1 * (ho - 1) + 1:s1,
                j * d2:j * d2 + s2 * (wo - 1) + 1:s2] += cols[:, i, j]
    (pt, pb), (pl, pr) = padding
    return dxt[:, pt:padded_shape[1] - pb, pl:padded_shape[2] - pr]


def _to_batch_last(x, padding):
    """(N, C, H, W) -> zero-padded (C, Hp, Wp, N), one copy."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (pt, pb), (pl, pr) = padding
    xt = xp.zeros((c, h + pt + pb, w + pl + pr, n), x.dtype) if (pt or pb or pl or pr) else \
        xp.empty((c, h, w, n), x.dtype)
    xt[:, pt:pt + h, pl:pl + w] = x.transpose(1, 2, 3, 0)
    return xt


def _channels_last(x):
    """x (N, C, H, W) as an (N', H, W, C') array that is contiguous when possible: the plain
    transpose when x is a channels-last view (the conv output layout), else the planes of a
    contiguous NCHW array as (N C, H, W, 1). Returns the array and whether it is the former."""
    xh = x.transpose(0, 2, 3, 1)
    if xh.flags.c_contiguous or not x.flags.c_contiguous:
        return xh, True
    n, c, h, w = x.shape
    return x.reshape(n * c, h, w, 1), False


def _from_channels_last(yh, cl, shape):
    """Inverse of :func:`_channels_last` for a result (N', H', W', C') of NCHW shape ``shape``."""
    if cl:
        return yh.transpose(0, 3, 1, 2)
    return yh.reshape(shape)


def _add_bias(out, b):
    """out (M, O) += b in place. With few channels the broadcast add's inner loop is only O
    long; viewing rep rows as one (and b tiled rep times) makes it 256 values long: 0.54 vs
    1.16 ms for the seed CNN's first conv (M = 78400, O = 32). (Widths of 1024 floats ran 10x
    slower: the rows and the tiled bias then map to the same cache sets.)"""
    m, o = out.shape
    rep = max(1, 256 // o)
    while rep > 1 and m % rep:
        rep //= 2
    if rep > 1 and out.__class__ is np.ndarray and out.flags.c_contiguous:
        ov = out.reshape(m // rep, rep * o)
        np.add(ov, np.tile(b, rep), out=ov)
    else:
        out += b


_BLAS = (np.dtype(np.float32), np.dtype(np.float64))


def _bias_grad(gm):
    """Column sums of gm (M, O): a BLAS matrix-vector product with ones for NumPy floats,
    ~8x faster than gm.sum(axis=0) (0.19 vs 1.65 ms at M = 78400, O = 32), whose axis-0
    reduction adds one O-long row at a time."""
    if gm.__class__ is np.ndarray and gm.dtype in _BLAS:
        return np.ones(gm.shape[0], gm.dtype) @ gm
    return gm.sum(axis=0)


#: largest column buffer (elements) a convolution makes at once when its GEMMs run on one
#: thread each (batch-parallel passes, or a one-thread BLAS): larger batches are processed in
#: chunks of whole images whose columns fit, so the GEMM reads them from cache right after the
#: im2col copy wrote them. For the seed CNN's second conv (196 x 800 values per image), forward
#: with 3-image chunks (1.9 MB) measured 28-30 ms against 37-38 ms with 13-image ones (8 MB)
COLS_CHUNK = 1 << 19

#: the same for GEMMs the BLAS splits over its own threads: they need taller blocks to share
#: (the seed CNN step with 2 BLAS threads on a loaded machine: median 1.0 s with 8 MB chunks,
#: 1.4 s with 2 MB ones)
COLS_CHUNK_MT = 1 << 21

#: the batch's columns are kept for backward (weight gradient) when they have at most this
#: many elements; larger ones are rebuilt chunk by chunk from the saved input instead (for the
#: seed CNN's second conv: 63 MB saved otherwise, plus page faults on that much fresh memory)
KEEP_COLS = 1 << 21


ONEDNN_MIN_CHANNELS = 1  # (see the module docstring)


def _onednn_plan(x, w, b, stride, padding, dilation):
    """The oneDNN plan for this call, or None for ember's own path."""
    if x.shape[1] < ONEDNN_MIN_CHANNELS or not _dnnl_conv().usable(x, w) or \
            (b is not None and b.dtype != w.dtype):
        return None
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ho = out_size(h, kh, stride[0], *padding[0], dilation[0])
    wo = out_size(wd, kw, stride[1], *padding[1], dilation[1])
    if ho <= 0 or wo <= 0:
        return None
    return _dnnl_conv().plan(x.shape, w.shape, b is not None, tuple(stride),
                             (tuple(padding[0]), tuple(padding[1])), tuple(dilation),
                             (n, o, ho, wo))


_dnnl_mod = None


def _dnnl_conv():
    global _dnnl_mod
    if _dnnl_mod is None:
        from ..kernels import onednn_conv
        _dnnl_mod = onednn_conv
    return _dnnl_mod


def _onednn_forward(ctx, p, x, w, b):
    n, o, ho, wo = p.oshape
    xh = _dnnl_conv().nhwc(x)
    w = np.ascontiguousarray(w)
    if b is not None:
        b = np.ascontiguousarray(b)  # the plan's bias descriptor has unit stride
    out = np.empty((n, ho, wo, o), np.float32)
    p.forward(xh, w, b, out)
    ctx.dnnl, ctx.xh, ctx.w = p, xh, w
    return out.transpose(0, 3, 1, 2)


def _onednn_backward(ctx, g):
    p, xh, w = ctx.dnnl, ctx.xh, ctx.w
    gh = _dnnl_conv().nhwc(g)
    gx = gw = gb = None
    if ctx.needs[0]:
        gx = np.empty(xh.shape, np.float32)
        p.backward_data(gh, w, gx)
        gx = gx.transpose(0, 3, 1, 2)
    if ctx.needs[1] or (ctx.has_b and ctx.needs[2]):
        gw = np.empty(w.shape, np.float32)
        gb = np.empty(w.shape[0], np.float32) if ctx.has_b else None
        p.backward_weights(xh, gh, gw, gb)
        if not ctx.needs[1]:
            gw = None
        if not (ctx.has_b and ctx.needs[2]):
            gb = None
    return gx, gw, gb


def _parts(n, step, width):
    """Image ranges [lo, hi) a convolution works on: chunks of ``step`` images, and at least
    ``width`` of them when the pass is split over that many threads."""
    if width > 1:
        step = min(step, -(-n // width))
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)]


class Conv2d(Function):
    """out[n, o] = sum_{c, i, j} w[o, c, i, j] x_pad[n, g(o) c, s h + d i, s w + d j] + b[o].

    Inputs: x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) or None.
    Attributes: stride, padding ((top, bottom), (left, right)), dilation (pairs), groups.

    groups=1: channels-last columns (N Ho Wo, kh kw C), so forward, weight gradient and input
    gradient are GEMMs on them and the output is returned as an NCHW view of the GEMM's
    (N Ho Wo, O) result (no copy). Columns are made COLS_CHUNK elements at a time (whole
    images); when the batch needs more than one chunk, backward rebuilds each chunk's columns
    from the saved input. groups>1: batch-last columns, one GEMM per group.
    """

    saves_inputs = True  # the chunked path keeps x (version-checked by the engine)

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1),
                groups=1):
        ctx.stride, ctx.padding, ctx.dilation, ctx.groups = stride, padding, dilation, groups
        ctx.has_b = b is not None
        ctx.dnnl = None
        if groups != 1:
            return _grouped_forward(ctx, x, w, b)
        if x.__class__ is np.ndarray and x.dtype == np.float32:
            p = _onednn_plan(x, w, b, stride, padding, dilation)
            if p is not None:
                return _onednn_forward(ctx, p, x, w, b)
        xp = get_array_module(x)
        kern = kernels.impl(x)
        n, c, h, wd = x.shape
        o, _, kh, kw = w.shape
        ho = out_size(h, kh, stride[0], *padding[0], dilation[0])
        wo = out_size(wd, kw, stride[1], *padding[1], dilation[1])
        k, m, hw = kh * kw * c, n * ho * wo, ho * wo
        wk = xp.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(o, k)  # (O, kh kw C), small
        xh = x.transpose(0, 2, 3, 1)
        geo = (kh, kw, ho, wo, stride, dilation, padding)
        # (small passes stay on one thread: the hand-off costs more than it saves)
        width = _threads.gemm_width() if xp is np and m * k >= _threads.MIN_SPLIT else 1
        chunk = COLS_CHUNK if width > 1 or _threads.blas_threads() == 1 else COLS_CHUNK_MT
        step = max(1, chunk // max(1, hw * k)) if xp is np else n
        parts = _parts(n, step, width)
        ctx.wk, ctx.kern, ctx.x_shape, ctx.geo, ctx.parts = wk, kern, (n, h, wd, c), geo, parts
        ctx.width = width
        if len(parts) == 1:
            cols = kern.im2col(xp, xh, *geo)
            out = cols.reshape(m, k) @ wk.T
            ctx.cols = [cols]
            if b is not None:
                if xp is np:
                    _add_bias(out, b)
                else:
                    out += b
        else:
            out = np.empty((m, o), np.result_type(x.dtype, w.dtype))
            kept = [None] * len(parts) if m * k <= KEEP_COLS else None

            def run(q):
                lo, hi = parts[q]
                cols = kern.im2col(xp, xh[lo:hi], *geo)
                block = out[lo * hw:hi * hw]
                np.matmul(cols.reshape(-1, k), wk.T, out=block)
                if b is not None:
                    _add_bias(block, b)  # while the block is still in cache
                if kept is not None:
                    kept[q] = cols
            _threads.run_parts(run, len(parts), width)
            ctx.cols, ctx.xh = kept, xh
        return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, g):
        if ctx.groups != 1:
            return _grouped_backward(ctx, g)
        if ctx.dnnl is not None:
            return _onednn_backward(ctx, g)
        xp = get_array_module(g)
        wk, kern = ctx.wk, ctx.kern
        kh, kw, ho, wo, stride, dilation, padding = ctx.geo
        n, h, w, c = ctx.x_shape
        o, k = wk.shape
        hw = ho * wo
        gm = g.transpose(0, 2, 3, 1).reshape(n * hw, o)  # free when g is channels-last
        gx = gw = gb = None
        parts = ctx.parts
        if len(parts) == 1:
            if ctx.needs[1]:
                gw = gm.T @ ctx.cols[0].reshape(n * hw, k)
            if ctx.needs[0]:
                gx = kern.input_grad(xp, gm, wk, ctx.x_shape, ho, wo, kh, kw, stride, dilation,
                                     padding)
        else:
            width = min(ctx.width, len(parts))
            # one weight-gradient accumulator per thread (thread t runs a contiguous run of
            # parts), summed at the end
            gws = [xp.zeros((o, k), gm.dtype) for _ in range(width)] if ctx.needs[1] else None
            gx = xp.empty(ctx.x_shape, gm.dtype) if ctx.needs[0] else None
            owner = [t for t in range(width) for _ in range(
                len(parts) * (t + 1) // width - len(parts) * t // width)]

            def run(q):
                lo, hi = parts[q]
                gc = gm[lo * hw:hi * hw]
                if gws is not None:
                    cols = ctx.cols[q] if ctx.cols is not None else \
                        kern.im2col(xp, ctx.xh[lo:hi], *ctx.geo)
                    acc = gws[owner[q]]
                    acc += gc.T @ cols.reshape(-1, k)
                if gx is not None:
                    gx[lo:hi] = kern.input_grad(xp, gc, wk, (hi - lo, h, w, c), ho, wo, kh,
                                                kw, stride, dilation, padding)
            _threads.run_parts(run, len(parts), width)
            if gws is not None:
                gw = gws[0]
                for extra in gws[1:]:
                    gw += extra
        if gw is not None:
            gw = xp.ascontiguousarray(gw.reshape(o, kh, kw, c).transpose(0, 3, 1, 2))
        if gx is not None:
            gx = gx.transpose(0, 3, 1, 2)
        if ctx.has_b and ctx.needs[2]:
            gb = _bias_grad(gm)
        return gx, gw, gb


def _grouped_forward(ctx, x, w, b):
    xp = get_array_module(x)
    stride, padding, dilation, groups = ctx.stride, ctx.padding, ctx.dilation, ctx.groups
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho = out_size(h, kh, stride[0], *padding[0], dilation[0])
    wo = out_size(wd, kw, stride[1], *padding[1], dilation[1])
    xt = _to_batch_last(x, padding)
    cols = _bl_im2col(xt, kh, kw, ho, wo, stride, dilation)
    k, m = cg * kh * kw, ho * wo * n
    out = xp.matmul(w.reshape(groups, o // groups, k), cols.reshape(groups, k, m))
    out = out.reshape(o, ho, wo, n)
    if b is not None:
        out += b.reshape(o, 1, 1, 1)
    ctx.cols, ctx.w, ctx.xt_shape = cols, w, xt.shape
    return xp.ascontiguousarray(out.transpose(3, 0, 1, 2))


def _grouped_backward(ctx, g):
    xp = get_array_module(g)
    cols, w, groups = ctx.cols, ctx.w, ctx.groups
    c, kh, kw, ho, wo, n = cols.shape
    o = w.shape[0]
    k, m = w.shape[1] * kh * kw, ho * wo * n
    gt = xp.ascontiguousarray(g.transpose(1, 2, 3, 0)).reshape(o, m)  # (O, Ho*Wo*N)
    gx = gw = gb = None
    og = o // groups
    g3 = gt.reshape(groups, og, m)
    c3 = cols.reshape(groups, k, m)
    if ctx.needs[1]:
        gw = xp.matmul(g3, c3.transpose(0, 2, 1)).reshape(w.shape)
    if ctx.needs[0]:
        gcols = xp.matmul(w.reshape(groups, og, k).transpose(0, 2, 1), g3)
        gxt = _bl_col2im(gcols.reshape(cols.shape), ctx.xt_shape, ctx.padding, ctx.stride,
                         ctx.dilation)
        gx = xp.ascontiguousarray(gxt.transpose(3, 0, 1, 2))
    if ctx.has_b and ctx.needs[2]:
        gb = gt.sum(axis=1)
    return gx, gw, gb


def _pool_geometry(x, kernel, stride, padding, dilation=(1, 1)):
    n, c, h, w = x.shape
    ho = out_size(h, kernel[0], stride[0], padding[0], padding[0], dilation[0])
    wo = out_size(w, kernel[1], stride[1], padding[1], padding[1], dilation[1])
    return ho, wo


def _fast(x, kernel, stride, padding, ho, wo):
    """Non-overlapping windows that tile the (cropped) input: pooling is a reshape."""
    return (tuple(kernel) == tuple(stride) and padding == (0, 0))


class MaxPool2d(Function):
    """Max over each window; the gradient goes to the first maximum of its window (row-major
    scan, as PyTorch). Padding counts as -inf."""

    saves_output = True

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1)):
        ho, wo = _pool_geometry(x, kernel, stride, padding, dilation)
        (kh, kw) = kernel
        ctx.args = (kernel, stride, padding, dilation, ho, wo)
        ctx.shape = x.shape
        if _fast(x, kernel, stride, padding, ho, wo) and dilation == (1, 1):
            # windows tile the image: one pass over the channels-last view (see _channels_last)
            xh, cl = _channels_last(x)
            ctx.kern = kern = kernels.impl(x)
            if not cl and kern.POOL_CHANNELS_LAST:
                # a plain NCHW array: one transposing copy beats pooling its planes as
                # (N C, H, W, 1) with numba's channel-inner loop (3.4 vs 17.8 ms, 100x32x28x28)
                xh, cl = x.transpose(0, 2, 3, 1).copy(), True
            oh, ctx.state = kern.maxpool_tiled(get_array_module(x), xh, kh, kw)
            ctx.cl, ctx.xh_shape = cl, xh.shape
            return _from_channels_last(oh, cl, (x.shape[0], x.shape[1], ho, wo))
        else:
            ctx.x = x
            xp = get_array_module(x)
            pads = ((padding[0], padding[0]), (padding[1], padding[1]))
            xpad = _pad(x, pads, -np.inf)
            out = None
            for i in range(kh):
                for j in range(kw):
                    v = xpad[_slice(i, j, ho, wo, stride, dilation)]
                    out = v.copy() if out is None else xp.maximum(out, v, out=out)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, g):
        kernel, stride, padding, dilation, ho, wo = ctx.args
        kh, kw = kernel
        n, c, h, w = ctx.shape
        xp = get_array_module(g)
        if hasattr(ctx, "state"):
            # (a zero gradient times a non-finite g would be NaN: gradients are finite here)
            if ctx.cl:
                gh = g.transpose(0, 2, 3, 1)
                if not gh.flags.c_contiguous and xp is np:
                    # an NCHW gradient (e.g. from a Flatten) of a channels-last input: one
                    # transposing copy, then the contiguous pass: 0.65 vs 3.25 ms with numba
                    # for the seed CNN's second pool (the kernel on the strided view is slow)
                    gh = np.ascontiguousarray(gh)
            else:
                gh = g.reshape(n * c, ho, wo, 1)
            gxh = ctx.kern.maxpool_tiled_backward(xp, gh, ctx.state, kh, kw, ctx.xh_shape)
            return _from_channels_last(gxh, ctx.cl, ctx.shape)
        x, out = ctx.x, ctx.out
        remaining = xp.ones(out.shape, bool)
        pads = ((padding[0], padding[0]), (padding[1], padding[1]))
        xpad = _pad(x, pads, -np.inf)
        gxp = xp.zeros(xpad.shape, g.dtype)
        overlap = stride[0] < kh * dilation[0] or stride[1] < kw * dilation[1]
        for i in range(kh):
            for j in range(kw):
                sl = _slice(i, j, ho, wo, stride, dilation)
                hit = xpad[sl] == out
                hit &= remaining
                remaining ^= hit
                if overlap:
                    gxp[sl] += xp.multiply(g, hit, dtype=g.dtype)
                else:
                    xp.multiply(g, hit, out=gxp[sl])
        return gxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]


class AvgPool2d(Function):
    """Mean over each window. count_include_pad=True divides by kh*kw everywhere (PyTorch's
    default); False divides by the number of real (unpadded) elements in the window."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), count_include_pad=True):
        ho, wo = _pool_geometry(x, kernel, stride, padding)
        kh, kw = kernel
        n, c, h, w = x.shape
        ctx.args = (kernel, stride, padding, ho, wo)
        ctx.shape = x.shape
        if _fast(x, kernel, stride, padding, ho, wo):
            # tiling windows: a reshape of the channels-last view (no copy unless cropped)
            xh, cl = _channels_last(x)
            nn, _, _, cc = xh.shape
            xr = xh[:, :ho * kh, :wo * kw].reshape(nn, ho, kh, wo, kw, cc)
            ctx.div, ctx.cl, ctx.xh_shape = None, cl, xh.shape
            return _from_channels_last(xr.mean(axis=(2, 4)), cl, (n, c, ho, wo))
        xp = get_array_module(x)
        pads = ((padding[0], padding[0]), (padding[1], padding[1]))
        xpad = _pad(x, pads)
        out = xp.zeros((n, c, ho, wo), x.dtype)
        for i in range(kh):
            for j in range(kw):
                out += xpad[_slice(i, j, ho, wo, stride, (1, 1))]
        if count_include_pad or padding == (0, 0):
            div = xp.asarray(kh * kw, x.dtype)
        else:
            ones = _pad(xp.ones((1, 1, h, w), x.dtype), pads)
            div = xp.zeros((1, 1, ho, wo), x.dtype)
            for i in range(kh):
                for j in range(kw):
                    div += ones[_slice(i, j, ho, wo, stride, (1, 1))]
        out /= div
        ctx.div = div
        return out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        kernel, stride, padding, ho, wo = ctx.args
        kh, kw = kernel
        n, c, h, w = ctx.shape
        if ctx.div is None:
            nn, hh, ww, cc = ctx.xh_shape
            gh = g.transpose(0, 2, 3, 1) if ctx.cl else g.reshape(nn, ho, wo, 1)
            tiled = xp.empty((nn, ho * kh, wo * kw, cc), g.dtype)
            tiled.reshape(nn, ho, kh, wo, kw, cc)[...] = (gh / (kh * kw))[:, :, None, :, None, :]
            if (hh, ww) != (ho * kh, wo * kw):  # cropped edge: zeros
                gxh = xp.zeros(ctx.xh_shape, g.dtype)
                gxh[:, :ho * kh, :wo * kw] = tiled
                tiled = gxh
            return _from_channels_last(tiled, ctx.cl, ctx.shape)
        gd = g / ctx.div
        gxp = xp.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), g.dtype)
        for i in range(kh):
            for j in range(kw):
                gxp[_slice(i, j, ho, wo, stride, (1, 1))] += gd
        return gxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]
