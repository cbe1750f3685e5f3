"""One error root for everything geocrobim raises on purpose.

Every subclass also inherits the matching builtin, so callers that already catch
``FileNotFoundError`` or ``ValueError`` keep working, while the CLI catches
:class:`GeoCrobimError` alone and prints its message as one line.
Messages name the bad value and the fix.
"""

from __future__ import annotations


class GeoCrobimError(Exception):
    """Root of all geocrobim errors. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1


class UsageError(GeoCrobimError, ValueError):
    """Bad arguments: tile or overlap nonsense, bad band list, empty expression."""

    exit_code = 2


class InputNotFoundError(GeoCrobimError, FileNotFoundError):
    """An input path does not exist."""


class RasterError(GeoCrobimError, ValueError):
    """An input exists but is not a usable raster (not a raster, truncated, bad dtype, bad band)."""


class OutputError(GeoCrobimError, OSError):
    """An output cannot be written (unwritable folder, existing file without --overwrite)."""


class CheckpointError(GeoCrobimError, ValueError):
    """A checkpoint is missing, corrupt, carries a pickle, or does not match the model config."""


class ModelNotFoundError(GeoCrobimError, KeyError):
    """An unknown model preset or checkpoint name; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DatasetError(GeoCrobimError, ValueError):
    """A dataset folder does not have the expected layout."""


class DependencyError(GeoCrobimError, ImportError):
    """An optional dependency (ray, QGIS) is missing; the message says what to install."""


def one_line(exc: BaseException, *, typed: bool = True) -> str:
    """An exception as one line, for a message that wraps it or a ledger record.

    Whitespace (a GDAL or Ray message's newlines) is collapsed. With ``typed`` the
    exception's type leads (``"OSError: disk full"``), except for a :class:`GeoCrobimError`,
    whose messages are written for the user already; an empty message gives ``repr(exc)``.
    """
    text = " ".join(str(exc).split()) or repr(exc)
    return f"{type(exc).__name__}: {text}" if typed and not isinstance(exc, GeoCrobimError) else text
