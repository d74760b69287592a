"""Which one-pass kernels the generated replay may call: :mod:`._numba_fused` when numba is
importable (the optional extra ``fast``) and ``EMBER_KERNELS`` is not ``numpy``, else none (the
lowerings then write NumPy ``out=`` calls, with the same results). Chosen when a signature is
compiled, so ``import ember`` never loads numba."""
from __future__ import annotations

import os


def kernels():
    """The numba kernel module, or None (numba missing, or ``EMBER_KERNELS=numpy``)."""
    want = os.environ.get("EMBER_KERNELS", "").strip().lower()
    if want not in ("", "numpy", "numba"):
        raise ValueError(f"EMBER_KERNELS={want!r}: choose one of ('numpy', 'numba')")
    if want == "numpy":
        return None
    try:
        from . import _numba_fused
    except ImportError:
        if want == "numba":
            raise ImportError("EMBER_KERNELS=numba needs numba: pip install 'ember[fast]' (or "
                              "pip install numba)") from None
        return None
    return _numba_fused
