"""Peak GPU memory of a block of code, from CuPy's memory pool.

CuPy allocates every array (and the cuSOLVER/cuBLAS workspaces it creates as arrays) from its
default pool. A memory hook sees each block the pool hands out and takes back, so the peak of the
bytes in use is exact at block granularity (CuPy rounds requests up to 512 bytes). The pool's
reserved bytes (``pool_bytes``: in use plus cached free blocks) are what ``nvidia-smi`` shows on
top of the CUDA context (a few hundred MB that no pool sees)::

    with PeakMemory() as mem:
        sh.solve(problem, solver="convex-relu-admm", device="cuda")
    print(mem.report().peak_bytes)
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = ["MemoryReport", "PeakMemory", "format_bytes"]


@dataclass(frozen=True)
class MemoryReport:
    #: most bytes held by arrays at once inside the block (pool blocks in use)
    peak_bytes: int
    #: bytes the pool had reserved from the device at the end of the block (cached blocks included)
    pool_bytes: int
    #: the device's memory, free and total, at the end of the block (None where unknown)
    device_free_bytes: int | None = None
    device_total_bytes: int | None = None


def format_bytes(n: int | None) -> str:
    """``1536 -> "1.5 KiB"``; ``None -> "?"``."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024.0 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024.0
    return f"{value:.1f} GiB"  # pragma: no cover - the loop always returns


def _peak_hook_class(cp: ModuleType) -> type:
    class _PeakHook(cp.cuda.MemoryHook):  # type: ignore[name-defined]  # CuPy is imported at run time
        """Counts the pool's blocks in use; CuPy calls the hooks with keyword arguments."""

        def __init__(self, in_use: int) -> None:
            self.name = f"solverhub_peak_memory_{id(self)}"  # unique: PeakMemory blocks may nest
            self.in_use = int(in_use)
            self.peak = int(in_use)

        def malloc_postprocess(self, **kw: Any) -> None:
            if kw.get("mem_ptr", 1):  # 0: the allocation failed
                self.in_use += int(kw.get("mem_size", 0))
                self.peak = max(self.peak, self.in_use)

        def free_postprocess(self, **kw: Any) -> None:
            self.in_use -= int(kw.get("mem_size", 0))

    return _PeakHook


class PeakMemory:
    """Context manager measuring the peak pool memory in use while it is active (this thread:
    CuPy's hooks are thread-local). Cached free blocks are released on entry, so ``pool_bytes``
    at the end is what the block itself made the pool reserve."""

    def __init__(self, cp: ModuleType | None = None) -> None:
        if cp is None:
            from .probe import load_cupy

            cp = load_cupy()
        self.cp = cp
        self._hook: Any = None
        self._report: MemoryReport | None = None

    def __enter__(self) -> "PeakMemory":
        pool = self.cp.get_default_memory_pool()
        pool.free_all_blocks()
        self._hook = _peak_hook_class(self.cp)(pool.used_bytes())
        self._hook.__enter__()
        self._report = None
        return self

    def __exit__(self, *exc: Any) -> None:
        self._hook.__exit__(*exc)
        self.cp.cuda.runtime.deviceSynchronize()
        pool = self.cp.get_default_memory_pool()
        free = total = None
        try:
            free, total = (int(v) for v in self.cp.cuda.runtime.memGetInfo())
        except Exception:  # informative only
            pass
        self._report = MemoryReport(peak_bytes=int(self._hook.peak), pool_bytes=int(pool.total_bytes()),
                                    device_free_bytes=free, device_total_bytes=total)

    def report(self) -> MemoryReport:
        """The measurement; only after the ``with`` block has ended."""
        if self._report is None:
            raise RuntimeError("PeakMemory.report() is available after the with block")
        return self._report
