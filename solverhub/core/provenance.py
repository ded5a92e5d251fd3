"""Where a result came from: enough for a reviewer to reproduce it.

Each result line carries :func:`task_provenance` (the process that solved it: solverhub, plugin and
backend versions, Python, host, CPU model), which matters on a cluster whose workers may differ;
the run folder keeps :func:`environment` once (``environment.json``: platform and every installed
distribution with its version).
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import sys
from importlib import metadata
from typing import Any

__all__ = ["task_provenance", "environment", "cpu_model", "BACKEND_DISTRIBUTIONS"]

#: libraries whose version decides a solver's answer; those installed are named in every line
BACKEND_DISTRIBUTIONS = ("highspy", "ortools", "pyomo", "numpy", "scipy", "alns", "mabwiser",
                         "torch", "cvxpy", "jax")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@functools.lru_cache(maxsize=1)
def _process_facts() -> dict[str, Any]:
    # cached: the same for every task a worker process runs
    versions = {"solverhub": _version("solverhub") or "unknown"}
    for dist in BACKEND_DISTRIBUTIONS:
        v = _version(dist)
        if v is not None:
            versions[dist] = v
    return {
        "versions": versions,
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def _plugin_of(solver: str) -> dict[str, str] | None:
    """The plugin that registered solver ``solver``, with its version."""
    try:
        from solverhub.core.manager import get_plugin_manager

        pm = get_plugin_manager()
        provider = getattr(pm.get_solver(solver), "provider", None)
        for info in pm.plugin_infos():
            if info.name == provider:
                return {"name": info.name, "version": info.version}
    except Exception:  # provenance is best effort: never fail a task for it
        return None
    return None


def task_provenance(solver: str) -> dict[str, Any]:
    """Facts of this process for one result line of solver ``solver``."""
    facts = dict(_process_facts())
    facts["versions"] = dict(facts["versions"])
    plugin = _plugin_of(solver)
    if plugin is not None:
        facts["plugin"] = plugin
    return facts


def environment() -> dict[str, Any]:
    """The runner's environment, written once per run folder as ``environment.json``."""
    dists = {}
    for d in metadata.distributions():
        names = d.metadata.get_all("Name")  # None when absent
        name = names[0] if names else None
        if name:
            dists[name] = d.version
    return {
        **_process_facts(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "argv": list(sys.argv),
        "distributions": dict(sorted(dists.items(), key=lambda kv: kv[0].lower())),
    }
