"""The optional CUDA plugin (issue 14): the ``cuda`` device, its availability reasons, the clear
error when it cannot be used, the device plumbing through a fake CuPy (NumPy underneath), the
peak-memory helper, the check script in its CPU smoke mode, and (marked ``gpu``, skipped without
a device) GPU against CPU results to 1e-6 relative."""

from __future__ import annotations

import importlib.util
import json
import operator
import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import solverhub as sh
from solverhub.core.arrays import array_namespace, asarray_on, is_device_array, namespace, to_host
from solverhub.core.cli import main
from solverhub.plugins.cuda import CUPY_MISSING, PeakMemory, probe_cuda
from solverhub.plugins.cuda import probe as probe_mod

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_probe():
    probe_mod.clear_probe_cache()
    yield
    probe_mod.clear_probe_cache()


def _admm_has_device() -> bool:
    from solverhub.plugins.convex_relu.admm import AdmmOptions

    return "device" in AdmmOptions.model_fields


# ---------------------------------------------------------------------- a fake CuPy
class FakeDeviceArray:
    """Stands in for ``cupy.ndarray`` (NumPy underneath): not a NumPy array, its module is
    ``cupy``, it comes back to the host only through ``get()``, and like CuPy it refuses implicit
    conversion to NumPy and host arrays mixed into device arithmetic (TypeError), so solver code
    that would fail on a GPU fails here too. NumPy functions dispatch to it (NEP 18) as CuPy's do."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, a: Any) -> None:
        self._a = np.asarray(a)

    def get(self) -> np.ndarray:
        return np.array(self._a)

    def __array_namespace__(self, api_version: Any = None) -> Any:
        return sys.modules["cupy"]

    def __array__(self, *a: Any, **k: Any) -> np.ndarray:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` "
                        "to construct a NumPy array explicitly (fake cupy)")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kw: Any) -> Any:
        _refuse_host_arrays(inputs, ufunc.__name__)
        return _on_device(getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kw)))

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        _refuse_host_arrays(args, func.__name__)
        return _on_device(func(*_unwrap(args), **_unwrap(kwargs)))

    def __getattr__(self, name: str) -> Any:  # shape, dtype, T, reshape, sum, item ...
        value = getattr(self._a, name)
        if callable(value):
            return lambda *a, **k: _on_device(value(*_unwrap(a), **_unwrap(k)))
        return _on_device(value)

    def __getitem__(self, key: Any) -> Any:
        return _on_device(self._a[_unwrap(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._a[_unwrap(key)] = _unwrap(value)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self):
        return (_on_device(row) for row in self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __repr__(self) -> str:
        return f"fake_cupy_array({self._a!r})"


def _binary(op: Any, reflected: bool = False, inplace: bool = False):
    def method(self: FakeDeviceArray, other: Any) -> Any:
        _refuse_host_arrays((other,), op.__name__)
        o = _unwrap(other)
        if inplace:
            self._a[...] = op(self._a, o)
            return self
        return _on_device(op(o, self._a) if reflected else op(self._a, o))
    return method


def _unary(op: Any):
    return lambda self: _on_device(op(self._a))


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor"):
    _f = getattr(operator, f"{_name}_" if _name in ("and", "or") else _name)
    setattr(FakeDeviceArray, f"__{_name}__", _binary(_f))
    setattr(FakeDeviceArray, f"__r{_name}__", _binary(_f, reflected=True))
    setattr(FakeDeviceArray, f"__i{_name}__", _binary(_f, inplace=True))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(FakeDeviceArray, f"__{_name}__", _binary(getattr(operator, _name)))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(FakeDeviceArray, f"__{_name}__", _unary(getattr(operator, _name)))
FakeDeviceArray.__module__ = "cupy"


def _unwrap(x: Any) -> Any:
    if isinstance(x, FakeDeviceArray):
        return x._a
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _refuse_host_arrays(args: Any, what: str) -> None:
    """CuPy raises TypeError for a NumPy array given to device arithmetic or functions."""
    for v in (args if isinstance(args, (list, tuple)) else (args,)):
        if isinstance(v, (list, tuple)):
            _refuse_host_arrays(v, what)
        elif isinstance(v, np.ndarray) and v.ndim > 0:
            raise TypeError(f"fake cupy: {what} got a host numpy.ndarray of shape {v.shape} "
                            f"(CuPy raises TypeError: Unsupported type <class 'numpy.ndarray'>)")


def _on_device(out: Any) -> Any:
    if isinstance(out, (np.ndarray, np.generic)):
        return FakeDeviceArray(out)  # reductions too: CuPy returns 0-d device arrays
    if isinstance(out, tuple):
        return tuple(_on_device(o) for o in out)
    if isinstance(out, list):
        return [_on_device(o) for o in out]
    return out


#: functions that take host data (the host-to-device copies)
_FROM_HOST = {"asarray", "array", "asanyarray", "ascontiguousarray"}


def _device_namespace(name: str, source: Any) -> types.ModuleType:
    """A module with ``source``'s functions on device arrays; types and constants pass as they are."""
    mod = types.ModuleType(name)

    def __getattr__(attr: str) -> Any:
        value = getattr(source, attr)
        if isinstance(value, (type, types.ModuleType)) or not callable(value):
            return value

        def call(*a: Any, **k: Any) -> Any:
            if attr not in _FROM_HOST:
                _refuse_host_arrays(a, f"cupy.{attr}")
            return _on_device(value(*_unwrap(a), **_unwrap(k)))
        return call

    mod.__getattr__ = __getattr__  # type: ignore[attr-defined]  # PEP 562
    return mod


class FakePool:
    """CuPy's memory pool as far as PeakMemory uses it; ``malloc``/``free`` call the hooks."""

    def __init__(self, hooks: dict) -> None:
        self.used = 0
        self.reserved = 0
        self.hooks = hooks

    def used_bytes(self) -> int:
        return self.used

    def total_bytes(self) -> int:
        return self.reserved

    def free_all_blocks(self) -> None:
        self.reserved = self.used

    def malloc(self, size: int) -> None:
        self.used += size
        self.reserved = max(self.reserved, self.used)
        for h in list(self.hooks.values()):
            h.malloc_postprocess(device_id=0, size=size, mem_size=size, mem_ptr=1, pmem_id=1)

    def free(self, size: int) -> None:
        self.used -= size
        for h in list(self.hooks.values()):
            h.free_postprocess(device_id=0, mem_size=size, mem_ptr=1, pmem_id=1)


class RuntimeFailure(Exception):
    """Stands in for cupy_backends.cuda.api.runtime.CUDARuntimeError."""


def make_fake_cupy(*, devices: int = 1, driver: int = 12080, runtime: int = 12040,
                   count_error: str | None = None, compute_error: str | None = None) -> types.ModuleType:
    cp = _device_namespace("cupy", np)
    cp.__version__ = "0.0+fake"
    cp.ndarray = FakeDeviceArray
    cp.linalg = _device_namespace("cupy.linalg", np.linalg)
    cp.random = _device_namespace("cupy.random", np.random)
    hooks: dict = {}
    pool = FakePool(hooks)

    def asarray(x: Any, dtype: Any = None) -> FakeDeviceArray:
        if compute_error:
            raise RuntimeFailure(compute_error)
        return FakeDeviceArray(np.array(_unwrap(x), dtype=dtype))  # a copy, as to a device

    def arange(*a: Any, **k: Any) -> FakeDeviceArray:
        if compute_error:
            raise RuntimeFailure(compute_error)
        return FakeDeviceArray(np.arange(*a, **k))

    def getDeviceCount() -> int:
        if count_error:
            raise RuntimeFailure(count_error)
        return devices

    class MemoryHook:
        name = "MemoryHook"

        def __enter__(self):
            if self.name in hooks:
                raise KeyError(f"memory hook {self.name} already exists")  # as CuPy does
            hooks[self.name] = self
            return self

        def __exit__(self, *exc):
            del hooks[self.name]

    rt = types.SimpleNamespace(
        getDeviceCount=getDeviceCount, driverGetVersion=lambda: driver,
        runtimeGetVersion=lambda: runtime, getDevice=lambda: 0,
        getDeviceProperties=lambda i: {"name": b"Fake GPU 80GB"}, deviceSynchronize=lambda: None,
        memGetInfo=lambda: (70 * 2 ** 30, 80 * 2 ** 30))
    cp.asarray = asarray
    cp.array = asarray
    cp.arange = arange
    cp.cuda = types.SimpleNamespace(runtime=rt, MemoryHook=MemoryHook, pool=pool)
    cp.get_default_memory_pool = lambda: pool
    cp.asnumpy = lambda a: a.get() if isinstance(a, FakeDeviceArray) else np.asarray(a)
    return cp


@pytest.fixture
def fake_cupy(monkeypatch):
    """Installs a working fake CuPy and a loadable driver; yields a function that replaces it."""

    def install(**kw: Any) -> types.ModuleType:
        cp = make_fake_cupy(**kw)
        monkeypatch.setitem(sys.modules, "cupy", cp)
        probe_mod.clear_probe_cache()
        return cp

    monkeypatch.setattr(probe_mod, "_driver_load_error", lambda: None)
    yield install


# ---------------------------------------------------------------------- listing, reasons, errors
def test_plugin_and_device_listed_with_the_probes_answer(capsys):
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    plugin = {p["name"]: p for p in data["plugins"]}["cuda"]
    assert not plugin["broken"] and plugin["registers"].get("array_backends") == ["cuda"]
    devices = {d["name"]: d for d in data["devices"]}
    assert devices["cpu"]["available"] is True
    status = probe_cuda()
    assert devices["cuda"]["available"] is status.available
    assert devices["cuda"]["unavailable_reason"] == status.reason
    if importlib.util.find_spec("cupy") is None:
        assert status.reason == CUPY_MISSING
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "device cuda" in out and "pip install solverhub[cuda]" in out  # markup escaped


def test_importing_solverhub_imports_no_cupy():
    code = ("import sys, solverhub as sh; pm = sh.get_plugin_manager(); "
            "assert 'cuda' in pm.array_backends(); print('cupy' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_selecting_cuda_without_cupy_is_one_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(probe_mod, "_cupy_installed", lambda: False)
    with pytest.raises(sh.UnavailableError) as err:
        array_namespace("cuda")
    assert str(err.value) == f"device 'cuda' is unavailable: {CUPY_MISSING}"
    with pytest.raises(sh.UnavailableError, match="unknown device 'tpu': known devices are cpu, cuda"):
        array_namespace("tpu")
    if not _admm_has_device():
        pytest.skip("convex-relu-admm has no 'device' option yet: checked through array_namespace only")
    rc = main(["solve", "dataset:breast_cancer?P=50", "--solver", "convex-relu-admm",
               "--set", "device=cuda"])
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err_lines) == 1 and "device 'cuda' is unavailable: CuPy is not installed" in err_lines[0]


@pytest.mark.parametrize("state, expected", [
    ({"driver": 11040, "runtime": 12040}, ("driver/runtime mismatch: the NVIDIA driver supports CUDA "
                                           "up to 11.4 but CuPy 0.0+fake is built for CUDA 12.4")),
    ({"driver": 0}, "no NVIDIA driver: the driver reports no CUDA version"),
    ({"count_error": "cudaErrorNoDevice: no CUDA-capable device is detected"},
     "no CUDA device: RuntimeFailure: cudaErrorNoDevice: no CUDA-capable device is detected"),
    ({"count_error": "cudaErrorInsufficientDriver: CUDA driver version is insufficient"},
     "driver/runtime mismatch"),
    ({"devices": 0}, "no CUDA device: CuPy sees 0 devices"),
    ({"compute_error": "nvrtc: libnvrtc.so.12 not found"},
     "CuPy cannot compute on Fake GPU 80GB: RuntimeFailure: nvrtc: libnvrtc.so.12 not found"),
])
def test_unavailable_reasons(fake_cupy, state, expected):
    fake_cupy(**state)
    status = probe_cuda()
    assert not status.available and status.reason.startswith(expected), status.reason
    with pytest.raises(sh.UnavailableError, match="device 'cuda' is unavailable: "):
        array_namespace("cuda")


def test_reasons_before_cupy_is_imported(monkeypatch):
    monkeypatch.setattr(probe_mod, "_cupy_installed", lambda: True)
    monkeypatch.setattr(probe_mod, "_driver_load_error",
                        lambda: "libcuda.so.1 cannot be loaded (no such file)")
    imported = []
    monkeypatch.setattr(probe_mod, "_import_cupy", lambda: imported.append(1))
    assert probe_cuda().reason == "no NVIDIA driver: libcuda.so.1 cannot be loaded (no such file)"
    assert not imported  # no driver: CuPy is never imported

    def broken_import():
        raise ImportError("libcudart.so.11.0: cannot open shared object file")

    monkeypatch.setattr(probe_mod, "_driver_load_error", lambda: None)
    monkeypatch.setattr(probe_mod, "_import_cupy", broken_import)
    probe_mod.clear_probe_cache()
    assert probe_cuda().reason == ("CuPy is installed but cannot be imported: ImportError: "
                                   "libcudart.so.11.0: cannot open shared object file")


def test_the_probe_is_cached(fake_cupy, monkeypatch):
    fake_cupy()
    calls = []
    real = probe_mod._cupy_installed
    monkeypatch.setattr(probe_mod, "_cupy_installed", lambda: calls.append(1) or real())
    for _ in range(3):
        assert probe_cuda().available
    assert len(calls) == 1


# ---------------------------------------------------------------------- the available branch
def test_available_device_hands_out_cupy_and_results_come_back(fake_cupy, capsys):
    cp = fake_cupy()
    status = probe_cuda()
    assert status.available, status.reason
    assert status.summary() == ("Fake GPU 80GB (1 visible), driver CUDA 12.8, CuPy 0.0+fake "
                                "(CUDA 12.4)")
    xp = array_namespace("cuda")
    assert xp is cp
    x = asarray_on(xp, np.arange(6.0).reshape(2, 3))
    assert is_device_array(x) and namespace(x) is cp
    y = xp.linalg.norm(x, axis=1)
    assert isinstance(y, FakeDeviceArray)
    host = to_host(y)
    assert type(host) is np.ndarray
    np.testing.assert_allclose(host, np.linalg.norm(np.arange(6.0).reshape(2, 3), axis=1))
    assert main(["plugins", "--json"]) == 0
    devices = {d["name"]: d for d in json.loads(capsys.readouterr().out)["devices"]}
    assert devices["cuda"]["available"] is True and devices["cuda"]["unavailable_reason"] is None


def test_block_sketch_on_the_fake_device_returns_host_arrays(fake_cupy):
    sketch = pytest.importorskip("solverhub.plugins.exact_al.sketch")
    if not hasattr(sketch, "block_sketch_solve"):
        pytest.skip("exact_al.sketch.block_sketch_solve does not exist yet")
    fake_cupy()
    rng = np.random.default_rng(0)
    B = rng.standard_normal((40, 40))
    K = B @ B.T / 40 + np.eye(40)
    r = rng.standard_normal(40)
    z_cpu, out_cpu = sketch.block_sketch_solve(K, r, device="cpu", tol=1e-9, seed=1)
    z_dev, out_dev = sketch.block_sketch_solve(K, r, device="cuda", tol=1e-9, seed=1)
    assert type(z_dev) is np.ndarray
    assert out_dev.steps == out_cpu.steps
    np.testing.assert_allclose(z_dev, z_cpu, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(K @ z_dev, r, atol=1e-7)


def test_admm_on_the_fake_device_returns_host_arrays(fake_cupy):
    if not _admm_has_device():
        pytest.skip("convex-relu-admm has no 'device' option yet")
    from solverhub.plugins.convex_relu import make_synthetic

    fake_cupy()
    pb = make_synthetic(n=40, d=4, P=6, seed=2)
    cpu = sh.solve(pb, solver="convex-relu-admm", max_iterations=200)
    dev = sh.solve(pb, solver="convex-relu-admm", max_iterations=200, device="cuda")
    assert dev.status == cpu.status and dev.iterations == cpu.iterations
    assert type(dev.x) is np.ndarray and isinstance(dev.objective, float)
    np.testing.assert_allclose(dev.x, cpu.x, rtol=1e-10, atol=1e-12)


def _exact_al_has_device() -> bool:
    from solverhub.plugins.exact_al.solver import ExactALOptions

    return "device" in ExactALOptions.model_fields


def test_exact_al_on_the_fake_device_returns_host_arrays(fake_cupy):
    # the direct KKT solve; the sketch steps are block_sketch_solve's (above); their many small
    # steps cost seconds through the fake's Python wrappers
    sketch = "exact"
    if not _exact_al_has_device():
        pytest.skip("exact-al has no 'device' option yet")
    from solverhub.plugins.exact_al.testproblems import hs39

    fake_cupy()
    cpu = sh.solve(hs39(), solver="exact-al", sketch=sketch)
    dev = sh.solve(hs39(), solver="exact-al", sketch=sketch, device="cuda")
    assert dev.status == cpu.status and dev.iterations == cpu.iterations
    assert type(dev.x) is np.ndarray
    np.testing.assert_allclose(dev.x, cpu.x, rtol=1e-10, atol=1e-12)


def test_peak_memory_follows_the_pools_hooks(fake_cupy):
    cp = fake_cupy()
    pool = cp.cuda.pool
    pool.malloc(1000)  # held before: counts towards the peak, as it occupies the device
    with PeakMemory(cp) as mem:
        pool.malloc(4096)
        pool.malloc(2048)
        pool.free(4096)
        pool.malloc(512)
    pool.malloc(10 ** 6)  # after the block: not counted
    rep = mem.report()
    assert not pool.hooks  # the hook is gone after the block
    assert rep.peak_bytes == 1000 + 4096 + 2048
    assert rep.pool_bytes == 1000 + 4096 + 2048
    assert rep.device_total_bytes == 80 * 2 ** 30
    with pytest.raises(RuntimeError, match="after the with block"):
        PeakMemory(cp).report()
    pool.free(pool.used)
    with PeakMemory(cp) as outer:
        pool.malloc(100)
        with PeakMemory(cp) as inner:
            pool.malloc(300)
            pool.free(300)
        pool.free(100)
    assert (outer.report().peak_bytes, inner.report().peak_bytes) == (400, 400)


# ---------------------------------------------------------------------- the check script
def test_gpu_check_script_runs_on_the_cpu(monkeypatch):
    """benchmarks/gpu_check.py's agreement checks and table, CPU against CPU, at tiny sizes."""
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", mod)  # dataclasses look their module up
    spec.loader.exec_module(mod)
    rows: list = []
    # the agreement checks at their small sizes; the timed parts are covered by the script itself
    assert mod.check_admm_agreement("cpu", rows, 40, 4, 6, 60)
    assert mod.check_sketch_agreement("cpu", rows, 30, 10, None, q=10)
    assert mod.check_sketch_agreement("cpu", rows, 30, 10, 3)
    assert all(r.verdict.startswith("met") for r in rows), [r.verdict for r in rows]
    table = mod.markdown(rows, mod.environment("cpu"), "python benchmarks/gpu_check.py --device cpu")
    assert table.count("\n| ") == len(rows) + 1  # header + one line per row


@pytest.mark.slow
def test_gpu_check_script_smoke_mode_end_to_end(tmp_path):
    out = tmp_path / "gc.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu",
                           "--small", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["ok"] and len(data["rows"]) >= 7
    assert "| ADMM iteration (split u-step) |" in proc.stdout


# ---------------------------------------------------------------------- on a real GPU
def _need_gpu() -> None:
    status = probe_cuda()
    if not status.available:
        pytest.skip(f"no usable CUDA device: {status.reason}")


@pytest.mark.gpu
@pytest.mark.parametrize("splitting, loss", [("woodbury", "squared"), ("split", "squared"),
                                             ("split", "hinge")])
def test_gpu_admm_equals_cpu(splitting, loss):
    _need_gpu()
    from solverhub.plugins.convex_relu import make_synthetic

    pb = make_synthetic(n=300, d=10, P=20, loss=loss, seed=3)
    opts = dict(max_iterations=1500, splitting=splitting, polish=False)  # the ADMM itself
    cpu = sh.solve(pb, solver="convex-relu-admm", device="cpu", **opts)
    gpu = sh.solve(pb, solver="convex-relu-admm", device="cuda", **opts)
    assert type(gpu.x) is np.ndarray
    assert gpu.status == cpu.status
    assert abs(gpu.objective - cpu.objective) <= 1e-6 * max(1.0, abs(cpu.objective))
    assert np.linalg.norm(gpu.x - cpu.x) <= 1e-6 * max(np.linalg.norm(cpu.x), 1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize("method, block", [("gaussian", 0), ("gaussian", 1), ("kaczmarz", 8)])
def test_gpu_block_sketch_equals_cpu(method, block):
    _need_gpu()
    from solverhub.plugins.exact_al.sketch import block_sketch_solve

    rng = np.random.default_rng(4)
    n, m = 150, 50
    G = rng.standard_normal((n, n))
    H = np.eye(n) + (G + G.T) / (4 * np.sqrt(2 * n))
    A = 2 * rng.standard_normal((m, n)) / np.sqrt(n)
    K = np.block([[H, A.T], [A, np.zeros((m, m))]])
    r = rng.standard_normal(n + m)
    kw = dict(method=method, block=block, tol=1e-9, max_steps=20_000, seed=2)
    z_cpu, out_cpu = block_sketch_solve(K, r, device="cpu", **kw)
    z_gpu, out_gpu = block_sketch_solve(K, r, device="cuda", **kw)
    assert type(z_gpu) is np.ndarray
    # the same host-drawn sketches: the same steps, but for a stop decided by rounding
    assert abs(out_gpu.steps - out_cpu.steps) <= 1 and out_gpu.converged == out_cpu.converged
    assert np.linalg.norm(z_gpu - z_cpu) <= 1e-6 * np.linalg.norm(z_cpu)
    if out_cpu.converged:  # the vector sketch (block 1) may need more than max_steps here
        assert np.linalg.norm(K @ z_gpu - r) <= 1e-8 * np.linalg.norm(r)


@pytest.mark.gpu
@pytest.mark.parametrize("sketch", ["exact", "gaussian", "kaczmarz"])
def test_gpu_exact_al_equals_cpu(sketch):
    _need_gpu()
    from solverhub.plugins.exact_al.testproblems import hs39, hs40

    for make in (hs39, hs40):
        cpu = sh.solve(make(), solver="exact-al", sketch=sketch, device="cpu")
        gpu = sh.solve(make(), solver="exact-al", sketch=sketch, device="cuda")
        assert type(gpu.x) is np.ndarray and gpu.status == cpu.status
        assert abs(gpu.objective - cpu.objective) <= 1e-6 * max(1.0, abs(cpu.objective))
        assert np.linalg.norm(gpu.x - cpu.x) <= 1e-6 * max(np.linalg.norm(cpu.x), 1e-12)


@pytest.mark.gpu
def test_gpu_peak_memory_sees_an_allocation():
    _need_gpu()
    cp = array_namespace("cuda")
    with PeakMemory(cp) as mem:
        a = cp.ones((1024, 1024))  # 8 MiB
        float(a.sum())
        del a
    rep = mem.report()
    assert rep.peak_bytes >= 8 * 2 ** 20 and rep.pool_bytes >= 8 * 2 ** 20


@pytest.mark.gpu
def test_gpu_peak_memory_in_a_worker_thread():
    _need_gpu()
    cp = array_namespace("cuda")
    seen = []

    def worker():
        with PeakMemory(cp) as mem:
            float(cp.ones(1024).sum())
        seen.append(mem.report().peak_bytes)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen and seen[0] >= 8192
