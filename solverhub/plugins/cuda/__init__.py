"""Built-in plugin ``cuda``: the ``cuda`` array device (CuPy on the current CUDA device, device 0
unless ``CUDA_VISIBLE_DEVICES`` or ``cupy.cuda.Device(i).use()`` says otherwise). See docs/cuda.md.

Solvers written against an array namespace (:func:`solverhub.core.arrays.array_namespace`) run on
it with ``device="cuda"``; results come back to the host as NumPy arrays. Without CuPy, without an
NVIDIA driver or without a device the device is listed as unavailable with the reason
(``solverhub plugins``) and selecting it is one :class:`~solverhub.core.errors.UnavailableError`.
Importing this plugin imports neither CuPy nor anything CUDA: the probe runs when the device is
listed or selected.
"""

from __future__ import annotations

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import ArrayBackend

from .memory import MemoryReport, PeakMemory, format_bytes
from .probe import CUPY_MISSING, CudaStatus, clear_probe_cache, cuda_unavailable_reason, load_cupy, probe_cuda

__all__ = ["DEVICE", "CudaStatus", "CUPY_MISSING", "probe_cuda", "cuda_unavailable_reason",
           "clear_probe_cache", "load_cupy", "PeakMemory", "MemoryReport", "format_bytes"]

DEVICE = "cuda"


@hookimpl
def solverhub_array_backends() -> list[ArrayBackend]:
    return [ArrayBackend(DEVICE, load_cupy, available=cuda_unavailable_reason,
                         description="CuPy on the current CUDA device (pip install solverhub[cuda])")]
