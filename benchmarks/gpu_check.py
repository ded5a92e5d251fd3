"""GPU check of issue 14: GPU results against CPU results, speedups, peak GPU memory.

    bash benchmarks/gpu_check.sh                               # on a machine with an NVIDIA GPU
    python benchmarks/gpu_check.py --device cuda [--json FILE] [--markdown FILE]
    python benchmarks/gpu_check.py --device cpu --small        # smoke test of this script on a CPU

Checks (each prints one line; a solver entry that does not exist yet is one "missing" line):

1. agreement, GPU against CPU, 1e-6 relative: ``convex-relu-admm`` (polishing off: the ADMM
   itself) on a small synthetic problem (both u-steps, Woodbury and split; up to 3000
   iterations, convergence or the limit), the same number of ADMM iterations at
   the large size, and ``block_sketch_solve`` (same seed: the same host-drawn sketches) on a small
   and, for a fixed number of steps, the large system;
2. speed: ADMM on synthetic data, n = 20,000, d = 784, P = 500 (``make_synthetic``; split u-step,
   whose set-up is two small eigendecompositions, where the Woodbury one needs an n x n
   eigendecomposition that takes minutes on 2 cores), seconds per iteration from the solver's
   iteration notifications (median, first iterations on the GPU excluded: kernel compilation);
   a Gaussian block sketch (q = ceil(sqrt(N))) on a dense symmetric KKT matrix [[H, A'], [A, 0]] with
   n + m = 15,000 + 5,000, seconds per step from two runs of different lengths (set-up cancels).
   The CPU side is "the 2-core CPU" of the issue: BLAS limited to ``--cpu-threads`` (2) threads
   (threadpoolctl, and gpu_check.sh exports OMP/OPENBLAS/MKL_NUM_THREADS=2);
3. peak GPU memory of each timed GPU run (CuPy pool blocks in use, ``PeakMemory``).

Prints a markdown table for docs/benchmarks.md. Exit code 0 when every agreement check passed,
1 when one failed or an entry is missing (speed targets are reported as met / not met).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

RTOL = 1e-6          # GPU results equal CPU results to this relative difference (issue 14)
ADMM_TARGET = 10.0   # ADMM iteration at least this much faster on the GPU than on 2 CPU cores


class MissingEntry(Exception):
    """A solver entry this check calls does not exist (yet): one line, the check is not run."""


@dataclass
class Row:
    check: str
    size: str
    cpu: str = "-"
    gpu: str = "-"
    speedup: str = "-"
    target: str = "-"
    memory: str = "-"
    verdict: str = "-"
    values: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- helpers
def _say(text: str) -> None:
    print(f"gpu_check: {text}", file=sys.stderr, flush=True)


def _cpu_threads_limited(n: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        _say("threadpoolctl is not installed: the CPU side uses the BLAS threads that "
             "OMP_NUM_THREADS/OPENBLAS_NUM_THREADS allow")
        return nullcontext()
    return threadpool_limits(limits=n)


def _synchronize(device: str) -> None:
    if device != "cpu":
        from solverhub.core.arrays import array_namespace

        array_namespace(device).cuda.runtime.deviceSynchronize()


@contextmanager
def _peak_memory(device: str) -> Iterator[list]:
    """Yields a list that holds the MemoryReport after the block (nothing on the CPU)."""
    out: list = []
    if device == "cpu":
        yield out
        return
    from solverhub.core.arrays import array_namespace
    from solverhub.plugins.cuda import PeakMemory

    mem = PeakMemory(array_namespace(device))
    with mem:
        yield out
    out.append(mem.report())


def _mem_text(reports: list) -> tuple[str, int | None]:
    if not reports:
        return "-", None
    from solverhub.plugins.cuda import format_bytes

    r = reports[0]
    return f"{format_bytes(r.peak_bytes)} (pool {format_bytes(r.pool_bytes)})", r.peak_bytes


def _rel(a: Any, b: Any) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        return math.inf
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _seconds(t: float | None) -> str:
    if t is None or not math.isfinite(t):
        return "-"
    return f"{t * 1e3:.3g} ms" if t < 1.0 else f"{t:.3g} s"


# ---------------------------------------------------------------------- entries (guarded)
class IterationClock:
    """Observer: a time stamp at each ADMM iteration notification."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def on_iteration(self, solver: str, iteration: int, info: dict) -> None:
        self.stamps.append(time.perf_counter())

    def per_iteration(self, skip: int) -> float:
        deltas = np.diff(self.stamps[skip:]) if len(self.stamps) > skip + 1 else np.diff(self.stamps)
        return float(statistics.median(deltas)) if len(deltas) else math.nan


def _admm_has_device() -> bool:
    from solverhub.plugins.convex_relu.admm import AdmmOptions

    return "device" in AdmmOptions.model_fields


def run_admm(problem: Any, device: str, clock: IterationClock | None = None, **options: Any) -> Any:
    """``sh.solve(problem, "convex-relu-admm", device=...)``; the CPU run omits ``device`` while
    the option does not exist, any other device needs it."""
    import solverhub as sh

    from solverhub.plugins.convex_relu.admm import AdmmOptions

    if "polish" in AdmmOptions.model_fields:  # the host-side polishing is no part of the ADMM check
        options.setdefault("polish", False)
    if _admm_has_device():
        options["device"] = device
    elif device != "cpu":
        raise MissingEntry("convex-relu-admm has no 'device' option yet "
                           "(solverhub.plugins.convex_relu.admm.AdmmOptions)")
    res = sh.solve(problem, solver="convex-relu-admm", observers=[clock] if clock else (), **options)
    if res.status.value == "error":
        raise RuntimeError(f"convex-relu-admm on {device}: {res.error}")
    return res


def _sketch_entry() -> Callable[..., Any]:
    try:
        from solverhub.plugins.exact_al import sketch
    except ImportError as exc:
        raise MissingEntry(f"solverhub.plugins.exact_al.sketch cannot be imported: {exc}") from None
    fn = getattr(sketch, "block_sketch_solve", None)
    if fn is None:
        raise MissingEntry("solverhub.plugins.exact_al.sketch.block_sketch_solve does not exist yet")
    return fn


def run_sketch(K: Any, r: Any, device: str, *, block: int, tol: float, steps: int, seed: int = 0
               ) -> tuple[np.ndarray, int]:
    """``block_sketch_solve(K, r, device=...)`` -> (host z, steps taken); keyword names are matched
    to the entry's signature (block / block_size)."""
    from solverhub.core.arrays import to_host

    fn = _sketch_entry()
    params = inspect.signature(fn).parameters
    wanted = {"device": device, "block": block, "block_size": block, "tol": tol, "max_steps": steps,
              "seed": seed, "method": "gaussian"}
    has_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kw = {k: v for k, v in wanted.items() if k in params}
    if has_var_kw and "block" not in kw and "block_size" not in kw:
        kw["block"] = block
    if "device" not in kw and device != "cpu":
        raise MissingEntry("block_sketch_solve takes no 'device' argument")
    out = fn(K, r, **kw)
    z, outcome = (out[0], out[1]) if isinstance(out, tuple) else (out, None)
    return np.asarray(to_host(z), dtype=np.float64), int(getattr(outcome, "steps", steps) or steps)


def kkt_matrix(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A dense symmetric indefinite KKT matrix [[H, A'], [A, 0]] (H = I + a symmetric Gaussian
    perturbation of norm about 1/2, A Gaussian scaled by 2/sqrt(n): singular values in about
    [0.5, 3.7] for n = 3 m) and a right-hand side; O(N^2) to build."""
    rng = np.random.default_rng(seed)
    N = n + m
    K = np.zeros((N, N))
    G = rng.standard_normal((n, n))
    K[:n, :n] = (G + G.T) / (4.0 * math.sqrt(2.0 * n))
    K[np.arange(n), np.arange(n)] += 1.0
    del G
    A = 2.0 * rng.standard_normal((m, n)) / math.sqrt(n)
    K[n:, :n] = A
    K[:n, n:] = A.T
    return K, rng.standard_normal(N)


# ---------------------------------------------------------------------- checks
def check_admm_agreement(device: str, rows: list[Row], n: int, d: int, P: int, iterations: int) -> bool:
    from solverhub.plugins.convex_relu import make_synthetic

    ok = True
    for splitting in ("woodbury", "split"):
        pb = make_synthetic(n=n, d=d, P=P, seed=3, test=False)
        opts = dict(max_iterations=iterations, splitting=splitting)
        cpu = run_admm(pb, "cpu", **opts)
        dev = run_admm(pb, device, **opts)
        dx, dobj = _rel(dev.x, cpu.x), _rel([dev.objective], [cpu.objective])
        good = max(dx, dobj) <= RTOL
        ok &= good
        rows.append(Row(f"ADMM ({splitting}) solve, {device} vs cpu", f"n={n}, d={d}, P={pb.P}",
                        cpu=f"{cpu.status.value} after {cpu.iterations} it, f={cpu.objective:.10g}",
                        gpu=f"{dev.status.value} after {dev.iterations} it, f={dev.objective:.10g}",
                        target=f"rel diff <= {RTOL:g}", verdict=f"{'met' if good else 'NOT met'} "
                        f"(x {dx:.1e}, f {dobj:.1e})", values={"rel_x": dx, "rel_objective": dobj}))
        _say(rows[-1].check + ": " + rows[-1].verdict)
    return ok


def check_sketch_agreement(device: str, rows: list[Row], n: int, m: int, steps: int | None,
                           q: int = 0) -> bool:
    """``steps=None``: to tolerance; else exactly ``steps`` steps (tolerance never reached).
    ``q = 0``: the entry's default block, ceil(sqrt(N))."""
    K, r = kkt_matrix(n, m, seed=5)
    q = q or max(1, math.ceil(math.sqrt(n + m)))
    tol = 1e-10 if steps is None else 1e-30
    limit = 20_000 if steps is None else steps
    with _cpu_threads_limited(CPU_THREADS):
        zc, sc = run_sketch(K, r, "cpu", block=q, tol=tol, steps=limit)
    zd, sd = run_sketch(K, r, device, block=q, tol=tol, steps=limit)
    dz = _rel(zd, zc)
    good = dz <= RTOL
    what = "to tolerance 1e-10" if steps is None else f"{steps} steps"
    extra = ""
    if steps is None:
        res_c = float(np.linalg.norm(K @ zc - r) / np.linalg.norm(r))
        extra = f", CPU residual {res_c:.1e}"
    rows.append(Row(f"block sketch {what}, {device} vs cpu", f"N=n+m={n}+{m}, q={q}",
                    cpu=f"{sc} steps", gpu=f"{sd} steps", target=f"rel diff <= {RTOL:g}",
                    verdict=f"{'met' if good else 'NOT met'} (z {dz:.1e}{extra})", values={"rel_z": dz}))
    _say(rows[-1].check + ": " + rows[-1].verdict)
    return good


def time_admm(device: str, rows: list[Row], n: int, d: int, P: int, cpu_iters: int, dev_iters: int,
              splitting: str) -> bool:
    from solverhub.plugins.convex_relu import make_synthetic

    t = time.perf_counter()
    pb = make_synthetic(n=n, d=d, P=P, seed=0, test=False)
    _say(f"ADMM problem n={n}, d={d}, P={pb.P} built in {time.perf_counter() - t:.1f} s")
    # a fixed number of iterations: no convergence stop, no time limit
    opts = dict(splitting=splitting, eps_abs=1e-300, eps_rel=1e-300)
    clock_c = IterationClock()
    with _cpu_threads_limited(CPU_THREADS):
        cpu = run_admm(pb, "cpu", clock_c, max_iterations=cpu_iters, **opts)
    t_cpu = clock_c.per_iteration(skip=0)
    _say(f"ADMM cpu: {_seconds(t_cpu)} per iteration ({cpu.iterations} iterations)")
    # the same iterations on the device: its x must equal the CPU's
    same = run_admm(pb, device, max_iterations=cpu_iters, **opts)
    dx = _rel(same.x, cpu.x)
    clock_d = IterationClock()
    with _peak_memory(device) as mem:
        run_admm(pb, device, clock_d, max_iterations=dev_iters, **opts)
        _synchronize(device)
    t_dev = clock_d.per_iteration(skip=min(3, dev_iters // 3))
    speed = t_cpu / t_dev if t_dev > 0 else math.nan
    mem_text, peak = _mem_text(mem)
    met = speed >= ADMM_TARGET
    rows.append(Row(f"ADMM iteration ({splitting} u-step)", f"n={n}, d={d}, P={pb.P}",
                    cpu=f"{_seconds(t_cpu)} ({CPU_THREADS} threads)", gpu=_seconds(t_dev),
                    speedup=f"{speed:.1f}x", target=f">= {ADMM_TARGET:g}x", memory=mem_text,
                    verdict=f"{'met' if met else 'NOT met'}",
                    values={"cpu_s": t_cpu, "gpu_s": t_dev, "speedup": speed, "peak_bytes": peak}))
    good = dx <= RTOL
    rows.append(Row(f"ADMM {cpu_iters} iterations, {device} vs cpu", f"n={n}, d={d}, P={pb.P}",
                    target=f"rel diff <= {RTOL:g}", verdict=f"{'met' if good else 'NOT met'} (x {dx:.1e})",
                    values={"rel_x": dx}))
    _say(f"ADMM {device}: {_seconds(t_dev)} per iteration, speedup {speed:.1f}x, peak {mem_text}; "
         f"x after {cpu_iters} iterations differs by {dx:.1e}")
    return good


def time_sketch(device: str, rows: list[Row], n: int, m: int, cpu_steps: tuple[int, int],
                dev_steps: tuple[int, int]) -> None:
    from solverhub.core.arrays import array_namespace, asarray_on

    t = time.perf_counter()
    K, r = kkt_matrix(n, m, seed=7)
    N = n + m
    q = max(1, math.ceil(math.sqrt(N)))
    _say(f"KKT matrix N={N} built in {time.perf_counter() - t:.1f} s")

    def per_step(dev: str, Kd: Any, rd: Any, steps: tuple[int, int]) -> float:
        times = []
        for s in steps:
            t0 = time.perf_counter()
            run_sketch(Kd, rd, dev, block=q, tol=1e-30, steps=s)
            _synchronize(dev)
            times.append(time.perf_counter() - t0)
        return (times[1] - times[0]) / (steps[1] - steps[0])

    with _cpu_threads_limited(CPU_THREADS):
        t_cpu = per_step("cpu", K, r, cpu_steps)
    _say(f"block sketch cpu: {_seconds(t_cpu)} per step")
    xp = array_namespace(device)
    with _peak_memory(device) as mem:
        Kd, rd = asarray_on(xp, K, dtype=xp.float64), asarray_on(xp, r, dtype=xp.float64)
        run_sketch(Kd, rd, device, block=q, tol=1e-30, steps=2)  # warm-up: kernel compilation
        t_dev = per_step(device, Kd, rd, dev_steps)
        del Kd, rd
    speed = t_cpu / t_dev if t_dev > 0 else math.nan
    mem_text, peak = _mem_text(mem)
    rows.append(Row("block sketch step (Gaussian)", f"N=n+m={n}+{m}, q={q}",
                    cpu=f"{_seconds(t_cpu)} ({CPU_THREADS} threads)", gpu=_seconds(t_dev),
                    speedup=f"{speed:.1f}x", memory=mem_text,
                    values={"cpu_s": t_cpu, "gpu_s": t_dev, "speedup": speed, "peak_bytes": peak}))
    _say(f"block sketch {device}: {_seconds(t_dev)} per step, speedup {speed:.1f}x, peak {mem_text}")


# ---------------------------------------------------------------------- main
CPU_THREADS = 2


def environment(device: str) -> dict[str, Any]:
    env = {"python": platform.python_version(), "numpy": np.__version__, "cpu_threads": CPU_THREADS,
           "machine": platform.machine(), "cpus": os.cpu_count()}
    if device == "cuda":
        from solverhub.plugins.cuda import probe_cuda

        env["device"] = probe_cuda().summary()
        env["device_label"] = "GPU"
    else:
        env["device"] = env["device_label"] = device
    return env


def markdown(rows: list[Row], env: dict[str, Any], command: str) -> str:
    lines = [f"`{command}` on {env['device']}; host: {env['cpus']} CPUs ({env['machine']}), CPU side "
             f"limited to {env['cpu_threads']} BLAS threads; Python {env['python']}, NumPy {env['numpy']}.",
             "", f"| check | size | CPU | {env['device_label']} | speedup | target | peak GPU memory | result |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.check} | {r.size} | {r.cpu} | {r.gpu} | {r.speedup} | {r.target} | "
                     f"{r.memory} | {r.verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    global CPU_THREADS
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", help="the device to check against the CPU (cpu: a "
                                                    "smoke test of this script)")
    p.add_argument("--small", action="store_true", help="small sizes (seconds, any machine)")
    p.add_argument("--cpu-threads", type=int, default=2)
    p.add_argument("--splitting", default="split", choices=("split", "woodbury"),
                   help="ADMM u-step of the timed run (woodbury: an n x n eigendecomposition first)")
    p.add_argument("--json", metavar="FILE", help="write the rows and environment as JSON")
    p.add_argument("--markdown", metavar="FILE", help="also write the markdown table here")
    args = p.parse_args(argv)
    CPU_THREADS = args.cpu_threads
    device = args.device.lower()
    command = "python benchmarks/gpu_check.py " + " ".join(argv if argv is not None else sys.argv[1:])

    from solverhub.core.arrays import array_namespace
    from solverhub.core.errors import UnavailableError

    try:
        array_namespace(device)
    except UnavailableError as exc:
        _say(str(exc))
        return 1
    env = environment(device)
    _say(f"device: {env['device']}")
    # agreement: ADMM (n, d, P, iteration limit); sketch to 1e-10 (n, m, q; q = N/4: a few
    # hundred steps, where q = sqrt(N) would need thousands)
    if args.small:
        admm_check, sketch_check = (60, 5, 8, 300), (60, 20, 20)
        admm_size, admm_iters = (400, 20, 16), (3, 6)
        sketch_size, sketch_cpu, sketch_dev = (300, 100), (1, 3), (1, 3)
    else:
        admm_check, sketch_check = (300, 10, 20, 3000), (150, 50, 50)
        admm_size, admm_iters = (20_000, 784, 500), (4, 30)
        sketch_size, sketch_cpu, sketch_dev = (15_000, 5_000), (1, 4), (10, 60)

    rows: list[Row] = []
    ok = True
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("ADMM agreement", lambda: check_admm_agreement(device, rows, *admm_check)),
        ("block sketch agreement", lambda: check_sketch_agreement(
            device, rows, sketch_check[0], sketch_check[1], None, q=sketch_check[2])),
        ("ADMM speed", lambda: time_admm(device, rows, *admm_size, *admm_iters, args.splitting)),
        ("block sketch agreement, large", lambda: check_sketch_agreement(
            device, rows, *sketch_size, steps=sketch_cpu[0] + 1)),
        ("block sketch speed", lambda: time_sketch(device, rows, *sketch_size, sketch_cpu, sketch_dev)),
    ]
    for name, step in steps:
        t = time.perf_counter()
        try:
            good = step()
        except MissingEntry as exc:
            _say(f"{name}: missing: {exc}")
            rows.append(Row(name, "-", verdict=f"not run: {exc}"))
            ok = False
            continue
        ok &= good is not False
        _say(f"{name}: done in {time.perf_counter() - t:.1f} s")
    table = markdown(rows, env, command)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(table + "\n")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": env, "command": command, "ok": ok,
                       "rows": [asdict(r) for r in rows]}, fh, indent=1, default=str)
    _say("all agreement checks passed" if ok else "some checks failed or could not run")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
