"""Vectorised image resampling at arbitrary (per-sample) source coordinates."""
import numpy as np


def grid_sample(x, ys, xs, mode="bilinear", fill=0.0, padding="fill"):
    """Sample NCHW ``x`` at source coordinates ``ys, xs`` of shape (N, Ho, Wo).

    Pixel centres sit at integer coordinates. ``mode`` is 'bilinear' or 'nearest'.
    Out-of-image samples take ``fill`` (padding='fill') or the nearest edge pixel
    (padding='border'). Returns (N, C, Ho, Wo) in x's float dtype (float32 for ints).
    """
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"grid_sample: mode must be 'bilinear' or 'nearest', got {mode!r}")
    n, c, h, w = x.shape
    out_dtype = x.dtype if x.dtype.kind == "f" else np.float32
    flat = x.reshape(n, c, h * w)
    if padding == "border":
        ys = np.clip(ys, 0, h - 1)
        xs = np.clip(xs, 0, w - 1)
    fill = np.asarray(fill, dtype=out_dtype).reshape(-1)
    fill = fill.reshape(1, -1, 1) if fill.size == c else fill.reshape(1, 1, 1)

    def gather(iy, ix):
        # (N, C, P) values at integer coords; invalid positions replaced by fill
        valid = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        idx = (np.clip(iy, 0, h - 1) * w + np.clip(ix, 0, w - 1)).reshape(n, 1, -1)
        vals = np.take_along_axis(flat, np.broadcast_to(idx, (n, c, idx.shape[-1])), axis=2)
        return np.where(valid.reshape(n, 1, -1), vals.astype(out_dtype, copy=False), fill)

    if mode == "nearest":
        out = gather(np.floor(ys + 0.5).astype(np.intp), np.floor(xs + 0.5).astype(np.intp))
    else:
        y0 = np.floor(ys)
        x0 = np.floor(xs)
        wy = (ys - y0).reshape(n, 1, -1).astype(out_dtype)
        wx = (xs - x0).reshape(n, 1, -1).astype(out_dtype)
        y0 = y0.astype(np.intp)
        x0 = x0.astype(np.intp)
        top = gather(y0, x0) * (1 - wx) + gather(y0, x0 + 1) * wx
        bottom = gather(y0 + 1, x0) * (1 - wx) + gather(y0 + 1, x0 + 1) * wx
        out = top * (1 - wy) + bottom * wy
    return out.reshape(n, c, *ys.shape[1:])


def box_grid(top, left, height, width, out_h, out_w):
    """Source coordinates mapping each box (per sample) onto an out_h x out_w grid.

    Uses pixel-area alignment: ``src = top + (i + 0.5) * height / out_h - 0.5``.
    """
    i = np.arange(out_h)
    j = np.arange(out_w)
    ys = top[:, None] + (i[None] + 0.5) * (height[:, None] / out_h) - 0.5
    xs = left[:, None] + (j[None] + 0.5) * (width[:, None] / out_w) - 0.5
    n = len(top)
    return (np.broadcast_to(ys[:, :, None], (n, out_h, out_w)),
            np.broadcast_to(xs[:, None, :], (n, out_h, out_w)))
