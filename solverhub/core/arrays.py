"""The array-namespace seam: solvers may compute on NumPy or on a device library (CuPy, ...);
core only ever sees host NumPy arrays and Python floats, converted once at the ``Result``
boundary by :func:`to_host`. A GPU plugin registers nothing here and changes nothing in core."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["namespace", "is_device_array", "to_host", "to_host_scalar"]


def _module_root(x: Any) -> str:
    return type(x).__module__.split(".", 1)[0]


def namespace(x: Any) -> ModuleType:
    """The array module of ``x`` (``numpy`` for NumPy arrays, scalars and lists; ``cupy`` for
    CuPy arrays; the object's ``__array_namespace__()`` where it has one)."""
    ns = getattr(x, "__array_namespace__", None)
    if _module_root(x) != "numpy" and callable(ns):
        try:
            return ns()
        except Exception:  # an old library version: fall back on the module name
            pass
    root = _module_root(x)
    if root == "cupy":
        import cupy  # noqa: PLC0415 - only when a CuPy array is already in hand

        return cupy
    return np


def is_device_array(x: Any) -> bool:
    """True for an array that does not live in host memory (CuPy; torch on a non-CPU device)."""
    root = _module_root(x)
    if root == "cupy":
        return True
    if root == "torch":
        return getattr(getattr(x, "device", None), "type", "cpu") != "cpu"
    return False


def to_host(x: Any) -> Any:
    """``x`` as host data: device arrays copied to NumPy (``cupy.ndarray.get``, torch's
    ``.cpu().numpy()``), NumPy arrays as they are, ``None`` kept; other objects unchanged."""
    if x is None or isinstance(x, np.ndarray):
        return x
    root = _module_root(x)
    if root == "cupy":
        return x.get()
    if root == "torch":
        return x.detach().cpu().numpy()
    if hasattr(x, "__dlpack__") and hasattr(x, "shape") and root not in ("numpy", "builtins"):
        try:
            return np.from_dlpack(x)
        except Exception:  # a device array DLPack cannot hand to the host: leave it be
            return x
    return x


def to_host_scalar(v: Any) -> Any:
    """A 0-d device array or NumPy scalar as a Python float (or int/bool); others unchanged."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    h = to_host(v)
    if isinstance(h, np.ndarray) and h.ndim == 0:
        return h.item()
    if isinstance(h, np.generic):
        return h.item()
    return h
