"""Convex ReLU masked products: compiled (Cython, ``solverhub.cython_ext._relu``) against the NumPy
oracle (``solverhub.plugins.convex_relu.kernels``), at the sizes of the convex ReLU benchmark.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_relu_kernels.py [--quick] [--out FILE]

Operations (n x d data, P patterns, m outputs): ``forward`` sum_i D_i X u_i (m x n);
``adjoint`` X'(D_i q) for all i (m x P x d). Variants:

* ``numpy``: the oracle, one BLAS product with an (m P) x n intermediate (the form admm.py used;
  D passed as float64, as admm.py caches it);
* ``numpy-rowdot`` (forward): Z = D U (n x d, D kept as float64), then row-wise x_k . Z_k
  (``kernels.masked_forward``);
* ``numpy-per-output`` (adjoint): the oracle's product one output at a time, (D' o q_j) X (the
  NumPy path of ``kernels.masked_adjoint``; the same as the oracle for m = 1);
* ``cython`` (adjoint): ``_relu.masked_adjoint``, row blocks, (D_b o q) built in a cache-sized
  buffer and accumulated by BLAS dgemm, no n x P array (``kernels.masked_adjoint`` when built).

Compiled versions of the patterns (1[X G >= 0]) and of the forward product (both associations,
and a BLAS-free loop) were measured too (docs/benchmarks.md) and removed: not faster than NumPy.

Each time is CPU seconds per call (``time.process_time``, so waiting for a shared core does not
count), the median over interleaved repeats (variants alternate, so load from other processes hits
all alike); a repeat runs a call until >= 20 ms of CPU time have passed. ``speed-up`` = numpy time
/ variant time (> 1: faster than the oracle). One thread.
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Callable

import numpy as np

from solverhub.plugins.convex_relu import kernels as K

try:
    from solverhub.cython_ext import _relu as C
except ImportError as exc:  # pragma: no cover
    raise SystemExit(f"the compiled _relu kernels are not built ({exc}); run "
                     f"`pip install -e . --no-build-isolation`")


def timed(fns: dict[str, Callable[[], object]], repeats: int, min_time: float) -> dict[str, float]:
    """Median CPU seconds per call of each function, repeats interleaved."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            f, calls = fns[name], 0
            t0 = time.process_time()
            while True:
                f()
                calls += 1
                el = time.process_time() - t0
                if el >= min_time:
                    break
            samples[name].append(el / calls)
    return {k: float(np.median(v)) for k, v in samples.items()}


def case_data(name: str, P: int, seed: int = 0):
    """(label, X, gates) at a benchmark size: the loader's data (with its bias column)."""
    if name == "synthetic":
        rng = np.random.default_rng(seed)
        X = np.hstack([rng.standard_normal((20000, 783)), np.ones((20000, 1))])
        return "synthetic 20000 x 784", X, rng.standard_normal((784, P))
    import solverhub as sh

    pb = sh.load_problem(f"dataset:{name}&P={P}" if "?" in name else f"dataset:{name}?P={P}")
    return (f"{name} {pb.n_samples} x {pb.d}", np.ascontiguousarray(pb.X),
            np.ascontiguousarray(pb.gates))


def bench_case(name: str, P: int, m: int, repeats: int, min_time: float):
    label, X, G = case_data(name, P)
    rng = np.random.default_rng(1)
    n, d = X.shape
    D = (X @ G) >= 0
    P = D.shape[1]
    D8 = D.view(np.uint8)
    Df = D.astype(np.float64)
    U = rng.standard_normal((m, P, d))
    q = rng.standard_normal((m, n))
    ao = np.empty((m, P, d))

    def rowdot():      # the path of kernels.masked_forward (D kept as float64 by the caller)
        return K.masked_forward(X, Df, U)

    def per_output():  # the NumPy path of kernels.masked_adjoint
        return K._adjoint_per_output(X, Df, q)

    # the variants agree with the oracle before they are timed
    f_ref, a_ref = K.masked_forward_ref(X, D, U), K.masked_adjoint_ref(X, D, q)
    C.masked_adjoint(X, D8, q, ao)
    for got, ref in ((rowdot(), f_ref), (per_output(), a_ref), (ao, a_ref)):
        assert np.allclose(got, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())

    rows = []
    fwd = {"numpy": lambda: K.masked_forward_ref(X, Df, U), "numpy-rowdot": rowdot}
    rows.append(("forward", timed(fwd, repeats, min_time)))
    rows.append(("adjoint", timed({"numpy": lambda: K.masked_adjoint_ref(X, Df, q),
                                   "numpy-per-output": per_output,
                                   "cython": lambda: C.masked_adjoint(X, D8, q, ao)},
                                  repeats, min_time)))
    out = []
    for op, t in rows:
        for var, s in t.items():
            out.append((f"{label}, P={P}, m={m}", op, var, s, t["numpy"] / s))
            print(f"{out[-1][0]:<34} {op:<9} {var:<13} {s * 1e6:12.1f} us  x{out[-1][4]:.2f}",
                  flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip the 20000 x 784 case")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--out", default=None, help="write the markdown table here")
    args = ap.parse_args()
    cases = [("breast_cancer", 50, 1), ("breast_cancer", 200, 1), ("digits?classes=3,8", 50, 1),
             ("digits", 50, 10)]
    rows = []
    for name, P, m in cases:
        rows += bench_case(name, P, m, args.repeats, 0.02)
    if not args.quick:
        rows += bench_case("synthetic", 500, 1, 5, 0.0)
    lines = [f"One thread, {platform.processor() or platform.machine()}, CPU time per call, median "
             f"of interleaved repeats; speed-up = NumPy oracle time / variant time.", "",
             "| size | operation | variant | time per call | speed-up vs NumPy |",
             "|---|---|---|---|---|"]
    for size, op, var, s, ratio in rows:
        tt = f"{s * 1e3:.1f} ms" if s >= 1e-3 else f"{s * 1e6:.0f} us"
        lines.append(f"| {size} | {op} | {var} | {tt} | {ratio:.2f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
