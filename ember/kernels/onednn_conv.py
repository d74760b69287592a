"""2-D convolutions on oneDNN (the optional extra ``onednn``), for float32 host arrays.

The plan for one configuration (input shape, weight shape, bias or not, stride, padding,
dilation) holds three oneDNN primitives: forward, backward-data and backward-weights. The
activations are channels-last (NHWC) in memory, which is how ember's convolution and pooling
already hand them to each other, so they are passed as they are. The weights stay in ember's
(O, C, kh, kw) layout; oneDNN picks its own blocked layout for them ("any") and the plan
reorders into and out of it, which costs one pass over the (small) weights per call.

A plan is used only when oneDNN offers an optimized implementation for all three directions;
its reference implementation ("ref:...") is slower than ember's own im2col + GEMM, so then
:func:`plan` returns None and the caller keeps ember's path.
"""
import _thread
import ctypes
from collections import OrderedDict

import numpy as np

from . import onednn as dn
from .blas_rest import rest_openblas_workers

_CACHE_SIZE = 64
_plans: "OrderedDict[tuple, object]" = OrderedDict()
_F32 = np.dtype(np.float32)


def usable(x, w) -> bool:
    """Whether a convolution of these arrays may go to oneDNN: float32 NumPy arrays, the
    library loadable and not turned off (``EMBER_ONEDNN=0``)."""
    return (x.__class__ is np.ndarray and w.__class__ is np.ndarray and x.dtype == _F32
            and w.dtype == _F32 and dn.enabled() and dn.available())


def nhwc(a):
    """``a`` (N, C, H, W) with channels-last memory: itself when it already is, else a copy."""
    t = a.transpose(0, 2, 3, 1)
    return t if t.flags.c_contiguous else np.ascontiguousarray(t)


def _nhwc_md(n, c, h, w):
    return dn.memory_desc((n, c, h, w), (h * w * c, 1, w * c, c))


class _Plan:
    """The primitives, descriptors and memory objects of one convolution configuration."""

    def __init__(self, xshape, wshape, has_b, stride, padding, dilation, oshape):
        n, c, h, wd = xshape
        o, _, kh, kw = wshape
        _, _, ho, wo = oshape
        eng, _ = dn.engine_and_stream()
        L = dn.lib()
        self.oshape = oshape
        self.lock = _thread.allocate_lock()
        self._owned_md, self._owned_pd = [], []
        st = dn.dims(stride)
        di = dn.dims([d - 1 for d in dilation])  # oneDNN counts the gaps: 0 = dense
        pl = dn.dims([padding[0][0], padding[1][0]])
        pr = dn.dims([padding[0][1], padding[1][1]])
        src, dst = self._md(_nhwc_md(n, c, h, wd)), self._md(_nhwc_md(n, o, ho, wo))
        w_user = self._md(dn.memory_desc(wshape, (c * kh * kw, kh * kw, kw, 1)))
        w_any = self._md(dn.memory_desc_any(wshape))
        bias = self._md(dn.memory_desc((o,), (1,))) if has_b else None

        fpd = self._pd(lambda p: L.dnnl_convolution_forward_primitive_desc_create(
            p, eng, dn.FORWARD_TRAINING, dn.CONVOLUTION_DIRECT, src, w_any, bias, dst,
            st, di, pl, pr, None), "convolution forward")
        bdpd = self._pd(lambda p: L.dnnl_convolution_backward_data_primitive_desc_create(
            p, eng, dn.CONVOLUTION_DIRECT, src, w_any, dst, st, di, pl, pr, fpd, None),
            "convolution backward data")
        bwpd = self._pd(lambda p: L.dnnl_convolution_backward_weights_primitive_desc_create(
            p, eng, dn.CONVOLUTION_DIRECT, src, w_any, bias, dst, st, di, pl, pr, fpd, None),
            "convolution backward weights")
        self.impls = tuple(dn.impl_name(pd) for pd in (fpd, bdpd, bwpd))
        self.optimized = not any(i.startswith("ref") for i in self.impls)
        if not self.optimized:
            return
        fw_md = dn.query_md(fpd, dn.Q_WEIGHTS_MD)
        bd_md = dn.query_md(bdpd, dn.Q_WEIGHTS_MD)
        bw_md = dn.query_md(bwpd, dn.Q_DIFF_WEIGHTS_MD)
        self.fwd, self.bwd_data, self.bwd_weights = (dn.primitive(pd) for pd in
                                                     (fpd, bdpd, bwpd))
        # weights reordered into the forward's layout (and the backward-data one's when it
        # differs); the weight gradient comes out in backward-weights' layout and is
        # reordered into the user's
        self.w_fwd = np.empty(dn.md_size(fw_md) // 4, np.float32)
        self.to_fwd = self._reorder(w_user, fw_md)
        self.same_bd = dn.md_equal(fw_md, bd_md)
        if not self.same_bd:
            self.w_bd = np.empty(dn.md_size(bd_md) // 4, np.float32)
            self.to_bd = self._reorder(w_user, bd_md)
        self.direct_gw = dn.md_equal(bw_md, w_user)
        if not self.direct_gw:
            self.gw_blocked = np.empty(dn.md_size(bw_md) // 4, np.float32)
            self.from_bw = self._reorder(bw_md, w_user)
        m = dn.memory
        self.m_src, self.m_dst, self.m_wuser = m(src), m(dst), m(w_user)
        self.m_wfwd, self.m_bwmd = m(fw_md), m(bw_md)
        self.m_wbd = self.m_wfwd if self.same_bd else m(bd_md)
        self.m_bias = m(bias) if has_b else None
        A = dn.ExecArg

        def args(*pairs):
            pairs = [(k, v) for k, v in pairs if v is not None]
            return (A * len(pairs))(*[A(k, v) for k, v in pairs])
        self.a_fwd = args((dn.ARG_SRC, self.m_src), (dn.ARG_WEIGHTS, self.m_wfwd),
                          (dn.ARG_BIAS, self.m_bias), (dn.ARG_DST, self.m_dst))
        self.a_to_fwd = args((dn.ARG_FROM, self.m_wuser), (dn.ARG_TO, self.m_wfwd))
        if not self.same_bd:
            self.a_to_bd = args((dn.ARG_FROM, self.m_wuser), (dn.ARG_TO, self.m_wbd))
        # backward data: diff_dst = the output gradient, diff_src = the input gradient
        self.a_bd = args((dn.ARG_DIFF_DST, self.m_dst), (dn.ARG_WEIGHTS, self.m_wbd),
                         (dn.ARG_DIFF_SRC, self.m_src))
        gw_mem = self.m_wuser if self.direct_gw else self.m_bwmd
        self.a_bw = args((dn.ARG_SRC, self.m_src), (dn.ARG_DIFF_DST, self.m_dst),
                         (dn.ARG_DIFF_WEIGHTS, gw_mem), (dn.ARG_DIFF_BIAS, self.m_bias))
        if not self.direct_gw:
            self.a_from_bw = args((dn.ARG_FROM, self.m_bwmd), (dn.ARG_TO, self.m_wuser))

    def _md(self, md):
        if md is not None:
            self._owned_md.append(md)
        return md

    def _pd(self, create, what):
        pd = ctypes.c_void_p()
        dn.check(create(ctypes.byref(pd)), what)
        self._owned_pd.append(pd)
        return pd

    def _reorder(self, src_md, dst_md):
        pd = dn.reorder_desc(src_md, dst_md)
        self._owned_pd.append(pd)
        return dn.primitive(pd)

    # --- the three directions (arrays: x and outputs NHWC-dense, w and gw (O, C, kh, kw)) --
    def forward(self, xh, w, b, out):
        rest_openblas_workers()  # their spinning workers would hold the cores oneDNN needs
        with self.lock:
            dn.bind(self.m_wuser, w.ctypes.data)
            dn.bind(self.m_wfwd, self.w_fwd.ctypes.data)
            dn.execute(self.to_fwd, self.a_to_fwd, "weight reorder")
            dn.bind(self.m_src, xh.ctypes.data)
            dn.bind(self.m_dst, out.ctypes.data)
            if b is not None:
                dn.bind(self.m_bias, b.ctypes.data)
            dn.execute(self.fwd, self.a_fwd, "convolution forward")

    def backward_data(self, gh, w, gx):
        rest_openblas_workers()  # their spinning workers would hold the cores oneDNN needs
        with self.lock:
            dn.bind(self.m_wuser, w.ctypes.data)
            if self.same_bd:
                dn.bind(self.m_wfwd, self.w_fwd.ctypes.data)
                dn.execute(self.to_fwd, self.a_to_fwd, "weight reorder")
            else:
                dn.bind(self.m_wbd, self.w_bd.ctypes.data)
                dn.execute(self.to_bd, self.a_to_bd, "weight reorder")
            dn.bind(self.m_dst, gh.ctypes.data)
            dn.bind(self.m_src, gx.ctypes.data)
            dn.execute(self.bwd_data, self.a_bd, "convolution backward data")

    def backward_weights(self, xh, gh, gw, gb):
        rest_openblas_workers()  # their spinning workers would hold the cores oneDNN needs
        with self.lock:
            dn.bind(self.m_src, xh.ctypes.data)
            dn.bind(self.m_dst, gh.ctypes.data)
            if self.m_bias is not None:
                dn.bind(self.m_bias, gb.ctypes.data)
            if self.direct_gw:
                dn.bind(self.m_wuser, gw.ctypes.data)
                dn.execute(self.bwd_weights, self.a_bw, "convolution backward weights")
            else:
                dn.bind(self.m_bwmd, self.gw_blocked.ctypes.data)
                dn.execute(self.bwd_weights, self.a_bw, "convolution backward weights")
                dn.bind(self.m_wuser, gw.ctypes.data)
                dn.execute(self.from_bw, self.a_from_bw, "weight-gradient reorder")

    def __del__(self):  # when neither the cache nor a pending backward holds the plan
        try:
            self._close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass

    def _close(self):
        L = dn.lib()
        if L is None:
            return
        for name in ("fwd", "bwd_data", "bwd_weights", "to_fwd", "to_bd", "from_bw"):
            p = getattr(self, name, None)
            if p:
                L.dnnl_primitive_destroy(p)
        for name in ("m_src", "m_dst", "m_wuser", "m_wfwd", "m_bwmd", "m_wbd", "m_bias"):
            m = getattr(self, name, None)
            if m and (name != "m_wbd" or not self.same_bd):
                L.dnnl_memory_destroy(m)
        for pd in self._owned_pd:
            dn.destroy_pd(pd)
        for md in self._owned_md:
            dn.destroy_md(md)
        self._owned_pd, self._owned_md = [], []


def plan(xshape, wshape, has_b, stride, padding, dilation, oshape):
    """The cached plan for this configuration, or None when oneDNN has only its reference
    implementation for it (then ember's own kernels are faster)."""
    key = (xshape, wshape, has_b, stride, padding, dilation)
    p = _plans.get(key)
    if p is None:
        if key in _plans:
            return None
        p = _Plan(xshape, wshape, has_b, stride, padding, dilation, oshape)
        if not p.optimized:
            p = None
        _plans[key] = p
        if len(_plans) > _CACHE_SIZE:  # freed once no pending backward holds it either
            _plans.popitem(last=False)
    else:
        _plans.move_to_end(key)
    return p
