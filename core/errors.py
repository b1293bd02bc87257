"""Errors the CLI shows to the user as one line, without a traceback.

Anything that is *not* a :class:`SuiteError` is a bug and keeps its traceback.
"""

from __future__ import annotations


class SuiteError(Exception):
    """Base of every error a user can cause or fix; ``exit_code`` is what the CLI returns."""

    exit_code = 1
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class UsageError(SuiteError):
    """A wrong option, name or combination on the command line."""

    exit_code = 2


class DataError(UsageError):
    """Input data that cannot be used, located as ``file:line: field 'x': reason``."""

    def __init__(
        self,
        source: str,
        reason: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.reason = reason
        super().__init__(format_location(source, line, field) + reason, hint=hint)


def format_location(source: str, line: int | None, field: str | None) -> str:
    where = source if line is None else f"{source}:{line}"
    return f"{where}: " + (f"field '{field}': " if field else "")


class ConfigError(UsageError):
    """A settings file or environment variable that does not parse."""


class ModelNotFoundError(UsageError):
    """A ``--model`` that is neither the packaged default, a folder, a registered name nor reachable."""


class UnknownNameError(UsageError):
    """A scenario, adapter, head or plugin name nothing registered."""


class StoreError(SuiteError):
    """The database cannot be reached or migrated."""


class PluginError(SuiteError):
    """A plugin broke a hook's contract (e.g. registered the same name twice)."""
