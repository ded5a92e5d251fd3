"""Can CuPy compute on a CUDA device here, and if not, why not (one line for the user).

Checks run cheapest first and stop at the first failure, so a machine without CuPy or without
an NVIDIA driver never imports CuPy: ``find_spec("cupy")``, then loading the driver library
(``libcuda``; loading initialises nothing, so a process that forks later is unaffected), then
CuPy itself (import, driver and runtime versions, device count) and a tiny computation that needs
NVRTC and cuBLAS (a wheel installed without the CUDA libraries fails there, not mid-solve).
The answer is cached per process; :func:`clear_probe_cache` forgets it (tests, notebooks).
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from solverhub.core.errors import UnavailableError

__all__ = ["CudaStatus", "CUPY_MISSING", "probe_cuda", "cuda_unavailable_reason", "clear_probe_cache",
           "load_cupy", "cuda_version_text"]

CUPY_MISSING = "CuPy is not installed (pip install solverhub[cuda])"
#: the driver library per platform; CUDA has no macOS driver
_DRIVER_LIBRARIES = {"win32": ("nvcuda.dll",), "darwin": ()}
_LINUX_DRIVER_LIBRARIES = ("libcuda.so.1", "libcuda.so")


@dataclass(frozen=True)
class CudaStatus:
    """The probe's answer: ``reason`` is ``None`` when the device can be used."""

    reason: str | None
    device_count: int = 0
    device_name: str | None = None
    #: CUDA versions as CUDA encodes them (12080 = 12.8): what the driver supports, and the
    #: runtime CuPy was built against
    driver_version: int | None = None
    runtime_version: int | None = None
    cupy_version: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

    def summary(self) -> str:
        """One line: the device and versions when available, else the reason."""
        if self.reason is not None:
            return self.reason
        return (f"{self.device_name or 'CUDA device'} ({self.device_count} visible), driver CUDA "
                f"{cuda_version_text(self.driver_version)}, CuPy {self.cupy_version} (CUDA "
                f"{cuda_version_text(self.runtime_version)})")


def cuda_version_text(v: int | None) -> str:
    """12080 -> ``"12.8"``; ``None`` -> ``"?"``."""
    if v is None:
        return "?"
    return f"{v // 1000}.{(v % 1000) // 10}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _cupy_installed() -> bool:
    if sys.modules.get("cupy") is not None:  # already imported (or injected by a test)
        return True
    try:
        return importlib.util.find_spec("cupy") is not None
    except (ImportError, ValueError):
        return False


def _driver_load_error() -> str | None:
    """``None`` when the NVIDIA driver library loads, else why not (one line)."""
    names = _DRIVER_LIBRARIES.get(sys.platform, _LINUX_DRIVER_LIBRARIES)
    if not names:
        return f"CUDA has no driver for this platform ({sys.platform})"
    first = ""
    for name in names:
        try:
            ctypes.CDLL(name)
            return None
        except OSError as exc:
            first = first or " ".join(str(exc).split())
    return f"{names[0]} cannot be loaded ({first}); is the NVIDIA driver installed?"


def _import_cupy() -> ModuleType:
    return importlib.import_module("cupy")


def _mismatch(driver: int, runtime: int, cupy_version: str) -> str:
    major = driver // 1000
    return (f"driver/runtime mismatch: the NVIDIA driver supports CUDA up to "
            f"{cuda_version_text(driver)} but CuPy {cupy_version} is built for CUDA "
            f"{cuda_version_text(runtime)}; update the driver, or install the CuPy wheel for CUDA "
            f"{major} (pip install cupy-cuda{major}x)")


def _visible_devices_note() -> str:
    v = os.environ.get("CUDA_VISIBLE_DEVICES")
    return "" if v is None else f" (CUDA_VISIBLE_DEVICES={v!r})"


@functools.lru_cache(maxsize=1)
def probe_cuda() -> CudaStatus:
    """Whether CuPy can compute on a CUDA device here; see the module docstring."""
    if not _cupy_installed():
        return CudaStatus(CUPY_MISSING)
    driver_error = _driver_load_error()
    if driver_error is not None:
        return CudaStatus(f"no NVIDIA driver: {driver_error}")
    try:
        cp = _import_cupy()
    except Exception as exc:  # a wheel for another CUDA, missing shared libraries ...
        return CudaStatus(f"CuPy is installed but cannot be imported: {_one_line(exc)}")
    version = str(getattr(cp, "__version__", "?"))
    runtime_api = cp.cuda.runtime
    try:
        driver = int(runtime_api.driverGetVersion())
        runtime = int(runtime_api.runtimeGetVersion())
    except Exception as exc:
        return CudaStatus(f"CuPy cannot read the CUDA versions: {_one_line(exc)}", cupy_version=version)
    versions: dict[str, Any] = dict(driver_version=driver, runtime_version=runtime, cupy_version=version)
    if driver == 0:
        return CudaStatus("no NVIDIA driver: the driver reports no CUDA version", **versions)
    # a driver runs every runtime of its own major version or older (minor version compatibility)
    if driver // 1000 < runtime // 1000:
        return CudaStatus(_mismatch(driver, runtime, version), **versions)
    try:
        count = int(runtime_api.getDeviceCount())
    except Exception as exc:
        text = _one_line(exc)
        if "InsufficientDriver" in text:
            return CudaStatus(_mismatch(driver, runtime, version), **versions)
        return CudaStatus(f"no CUDA device: {text}{_visible_devices_note()}", **versions)
    if count < 1:
        return CudaStatus(f"no CUDA device: CuPy sees 0 devices{_visible_devices_note()}", **versions)
    name = None
    try:
        raw = runtime_api.getDeviceProperties(cp.cuda.runtime.getDevice())["name"]
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
    except Exception:  # the name is only for display
        pass
    found: dict[str, Any] = dict(device_count=count, device_name=name, **versions)
    try:
        # an elementwise kernel (NVRTC) and a matrix product (cuBLAS)
        a = cp.arange(4, dtype=cp.float64) * 2.0
        if abs(float((a @ a).item()) - 56.0) > 1e-9:
            return CudaStatus("the CUDA device computed 2*[0,1,2,3] . 2*[0,1,2,3] wrong", **found)
    except Exception as exc:
        return CudaStatus(f"CuPy cannot compute on {name or 'the device'}: {_one_line(exc)} (missing "
                          f"CUDA libraries? pip install 'cupy-cuda12x[ctk]')", **found)
    return CudaStatus(None, **found)


def cuda_unavailable_reason() -> str | None:
    """The ``available=`` probe of the ``cuda`` array backend: ``None`` or the reason."""
    return probe_cuda().reason


def clear_probe_cache() -> None:
    probe_cuda.cache_clear()


def load_cupy() -> ModuleType:
    """The ``cupy`` module, or one :class:`UnavailableError` with the probe's reason."""
    status = probe_cuda()
    if status.reason is not None:
        raise UnavailableError(f"device 'cuda' is unavailable: {status.reason}")
    return _import_cupy()
