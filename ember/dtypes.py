"""Dtypes: float16 is NumPy's; bfloat16 comes from the optional ``ml_dtypes`` package.

``ember.bfloat16`` is resolved on first use (``import ember`` never imports ml_dtypes); without
the package it raises an ImportError that says what to install.
"""
import numpy as np

_BF16_HELP = ("bfloat16 needs the optional package ml_dtypes: pip install ml_dtypes "
              "(or pip install ember[lowp])")


def bfloat16_dtype() -> np.dtype:
    try:
        import ml_dtypes
    except ImportError:
        raise ImportError(_BF16_HELP) from None
    return np.dtype(ml_dtypes.bfloat16)


def as_dtype(dtype) -> np.dtype:
    """``np.dtype(dtype)``, also accepting the name ``"bfloat16"``."""
    if isinstance(dtype, np.dtype):
        return dtype
    if dtype == "bfloat16" or dtype == "bf16":
        return bfloat16_dtype()
    return np.dtype(dtype)


def is_floating_point(dtype) -> bool:
    """float16/32/64 and the ml_dtypes floats (bfloat16, whose NumPy kind is 'V')."""
    dtype = np.dtype(dtype)
    return dtype.kind in "fc" or (dtype.kind == "V" and dtype.name in _ML_FLOATS)


_ML_FLOATS = {"bfloat16", "float8_e4m3fn", "float8_e5m2"}
