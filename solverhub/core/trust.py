"""The trust model: code named by an address or a config runs only with the user's consent.

A ``py:module:callable`` address (and any loader whose :class:`~solverhub.core.records.LoaderSpec`
says ``runs_code``) imports and calls Python code. An address can come from a config someone
shared, or from a run folder handed over for ``--resume``, so the host runs such code only when
the user allowed it, in one of these ways:

* ``--allow-code`` on ``solverhub solve`` / ``solverhub run`` (every module);
* ``allow_code = true`` (every module) or ``allow_code = ["mypkg.problems", ...]`` in the run
  config the user runs; the copy of the config in a run folder does not count on ``--resume``;
* ``SOLVERHUB_TRUSTED_MODULES=mypkg,other.mod`` (a module and its submodules), or
  ``SOLVERHUB_ALLOW_CODE=1`` (every module), in the environment;
* from Python, :func:`allow_code` (every module, or the ones named).

Modules of installed plugins (solverhub's own and every package of an entry point in group
``solverhub``) are trusted: installing a plugin is consent. Without consent the address is a
:class:`CodeNotAllowedError` (a :class:`BadInputError`, exit 2) saying how to allow it, raised
before the module is imported. The current directory is never added to ``sys.path``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import os
import threading
from typing import Any, Iterable, Iterator

from solverhub.core.errors import BadInputError

__all__ = ["CodeNotAllowedError", "allow_code", "code_allowed", "is_trusted", "require_consent",
           "consent_state", "ENV_ALLOW", "ENV_TRUSTED"]

ENV_ALLOW = "SOLVERHUB_ALLOW_CODE"
ENV_TRUSTED = "SOLVERHUB_TRUSTED_MODULES"

_lock = threading.Lock()
_all = False
_modules: set[str] = set()


class CodeNotAllowedError(BadInputError):
    """An address or config would run code the user has not allowed."""


def allow_code(modules: Iterable[str] | bool = True) -> None:
    """Allow code to run in this process: ``True`` for every module, or the modules named (and
    their submodules)."""
    global _all
    with _lock:
        if modules is True:
            _all = True
        elif modules is not False:
            _modules.update(m.strip() for m in modules if m.strip())


def consent_state() -> bool | list[str]:
    """What this process allowed through :func:`allow_code` (to hand on to worker processes)."""
    with _lock:
        return True if _all else sorted(_modules)


@contextlib.contextmanager
def code_allowed(modules: Iterable[str] | bool = True) -> Iterator[None]:
    """Allow code inside a ``with`` block only."""
    global _all
    with _lock:
        saved = (_all, set(_modules))
    allow_code(modules)
    try:
        yield
    finally:
        with _lock:
            _all = saved[0]
            _modules.clear()
            _modules.update(saved[1])


def _installed() -> frozenset[str]:
    """Top-level packages of solverhub and of its installed plugins (entry points)."""
    out = {"solverhub"}
    try:
        eps: Iterable[md.EntryPoint] = md.entry_points(group="solverhub")
    except Exception:  # pragma: no cover - broken metadata
        eps = []
    for ep in eps:
        out.add(ep.value.partition(":")[0].strip().split(".")[0])
    return frozenset(p for p in out if p)


def _env_all() -> bool:
    return os.environ.get(ENV_ALLOW, "").strip().lower() in ("1", "true")


def _env_modules() -> set[str]:
    return {m.strip() for m in os.environ.get(ENV_TRUSTED, "").split(",") if m.strip()}


def is_trusted(module: str) -> bool:
    """True when code of ``module`` may run: an installed plugin's, or one the user allowed."""
    if _all or _env_all():
        return True
    with _lock:
        prefixes = set(_modules)
    prefixes |= _env_modules() | _installed()
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def require_consent(source: str, target: str, loader: Any = None) -> None:
    """Raise :class:`CodeNotAllowedError` unless the module named by ``target`` (the part before
    its first colon) may run."""
    module = target.partition(":")[0].strip()
    if is_trusted(module):
        return
    raise CodeNotAllowedError(
        f"{source}: this address runs Python code (module {module!r}), which needs your consent: "
        f"pass --allow-code to solverhub solve/run, set allow_code = true (or a list of modules) "
        f"in the run config, or set {ENV_TRUSTED}={module}; from Python call "
        f"solverhub.allow_code()")


def as_consent(value: Any) -> bool | list[str]:
    """A config's ``allow_code`` value as what :func:`allow_code` takes."""
    if isinstance(value, bool):
        return value
    return [str(m) for m in value]
