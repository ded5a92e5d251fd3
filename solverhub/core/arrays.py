"""The array-namespace seam: solvers may compute on NumPy or on a device library (CuPy, ...);
core only ever sees host NumPy arrays and Python floats, converted once at the ``Result``
boundary by :func:`to_host`. A solver picks its namespace once with :func:`array_namespace`
(``device="cpu"`` is NumPy; other devices are :class:`~solverhub.core.records.ArrayBackend`
records from plugins, e.g. ``"cuda"`` from the CUDA plugin) and writes its arithmetic against it."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["namespace", "array_namespace", "asarray_on", "is_device_array", "to_host", "to_host_scalar"]

CPU_DEVICES = ("cpu", "numpy")


def array_namespace(device: str = "cpu") -> ModuleType:
    """The array module for ``device``: NumPy for ``"cpu"``, else the module of the plugin's
    :class:`~solverhub.core.records.ArrayBackend` of that name. An unknown device, or one that
    cannot run here (no CuPy, no GPU), is one :class:`~solverhub.core.errors.UnavailableError`."""
    if device is None or str(device).lower() in CPU_DEVICES:
        return np
    from solverhub.core.manager import get_plugin_manager  # noqa: PLC0415 - avoid an import cycle

    return get_plugin_manager().get_array_backend(str(device).lower()).load_module()


def asarray_on(xp: ModuleType, x: Any, dtype: Any = None) -> Any:
    """``x`` (host or device data) as an array of namespace ``xp``; a no-op when it already is."""
    if xp is np:
        return np.asarray(to_host(x), dtype=dtype)
    return xp.asarray(x, dtype=dtype)


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
