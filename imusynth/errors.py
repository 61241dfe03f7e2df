"""Typed errors a user can cause.

Every error that a user's input can trigger (a bad file, a bad value, a missing column,
NaN, a wrong shape, an unknown class, a corrupt checkpoint) is raised as a subclass of
:class:`ImusynthError`. The CLI turns any of them into exit code 2 and one line that names
the file and the field; library users can catch them by type.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "ImusynthError",
    "LockError",
    "SpecError",
    "StoreError",
]


class ImusynthError(ValueError):
    """Base class of every error a user can cause.

    Parameters
    ----------
    message : str
        What is wrong, in words a user understands.
    path : str or PathLike, optional
        The file the problem was found in.
    field : str, optional
        The key, column, dataset or argument that holds the bad value.

    Examples
    --------
    >>> err = SpecError("expected a number", path="watch.toml", field="signal.sampling_rate_hz")
    >>> str(err)
    'watch.toml: signal.sampling_rate_hz: expected a number'
    """

    def __init__(
        self, message: str, *, path: str | PathLike | None = None, field: str | None = None
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        parts = [p for p in (self.path, self.field) if p]
        parts.append(self.message)
        return ": ".join(parts)


class SpecError(ImusynthError):
    """A dataset spec (TOML) is malformed: unknown or missing key, wrong type, bad value."""


class DataError(ImusynthError):
    """Data content is unusable: missing column, NaN/Inf, wrong shape, unknown class."""


class StoreError(ImusynthError):
    """An HDF5 file is unreadable, truncated, or lacks a required dataset or attribute."""


class ConfigError(ImusynthError):
    """A training/experiment config or a command-line value is invalid."""


class CheckpointError(ImusynthError):
    """A checkpoint or run folder is missing, corrupt, or incompatible."""


class LockError(ImusynthError):
    """A run or results folder is in use by another process (its lock file names the owner)."""
