"""Error types. Every error a user can cause is a :class:`BadInputError` whose message names the
culprit (file, option, config key, plugin); the CLI prints it on one line and exits with code 2."""

from __future__ import annotations

__all__ = [
    "SolverhubError",
    "BadInputError",
    "UnknownNameError",
    "DuplicateNameError",
    "UnavailableError",
    "PluginError",
    "SolverFailure",
]


class SolverhubError(Exception):
    """Base class of solverhub's own errors."""


class BadInputError(SolverhubError, ValueError):
    """The user gave something we cannot use: a missing or malformed file, an unknown option,
    a config with a typo. Exit code 2 on the command line."""


class UnknownNameError(BadInputError, KeyError):
    """A solver, backend, operator or problem scheme that no plugin registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnavailableError(BadInputError):
    """A registered solver that cannot run here (missing optional package, no device); the message
    gives the reason and, where known, the remedy."""


class DuplicateNameError(SolverhubError):
    """Two plugins registered the same name; the message names both providers."""


class PluginError(SolverhubError):
    """A plugin misbehaved (bad hook implementation, crashing factory)."""


class SolverFailure(SolverhubError):
    """A solver or backend failed in a way that is not the user's input."""
