"""Output safety: checked output folders and atomic writes (temporary name, rename on success).

A failed run must leave nothing at a final path, and an existing output is only replaced
with ``--overwrite``. Every writer writes to a temporary file in the destination folder
(same filesystem, so the final rename is atomic) and renames it when it is complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from geocrobim.atomic import replacing
from geocrobim.errors import OutputError


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def ensure_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create the output folder if needed and check that files can be written in it.

    Args:
        path: Output folder.

    Returns:
        The folder as a Path.

    Raises:
        OutputError: It cannot be created, is not a folder, or is not writable.
    """
    folder = check_output_dir(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder} ({_reason(exc)}); choose another -o") from exc
    _probe(folder, folder)
    return folder


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """Check that the output folder is writable, or can be created, without creating anything.

    A run checks this before its slow work and creates the folder only when it is about
    to write, so a run that fails early leaves no empty folder behind.

    Args:
        path: Output folder (it need not exist).

    Returns:
        The folder as a Path.

    Raises:
        OutputError: It is a file, sits under a file, or its nearest existing folder is not writable.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"output folder {folder} is a file, not a folder; choose another -o")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot create output folder {folder} ({existing} is a file); choose another -o")
    _probe(existing, folder)
    return folder


def _probe(where: Path, folder: Path) -> None:
    """Create and remove a hidden file in ``where`` (the output folder, or the folder that will hold it)."""
    # A real probe: os.access says yes to root even on read-only mounts.
    try:
        with tempfile.NamedTemporaryFile(dir=where, prefix=".geocrobim-probe-"):
            pass
    except OSError as exc:
        what = "is not writable" if where == folder else f"cannot be created in {where}"
        raise OutputError(f"output folder {folder} {what} ({_reason(exc)}); choose another -o") from exc


def check_output_path(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Refuse an existing output unless ``overwrite``; the parent folder must exist.

    Raises:
        OutputError: The path exists (without ``overwrite``), is a folder, or its folder is missing.
    """
    final = Path(path)
    if final.is_dir():
        raise OutputError(f"output {final} is a folder; choose a file name")
    if final.exists() and not overwrite:
        raise OutputError(f"output {final} already exists; pass --overwrite to replace it")
    if not final.parent.is_dir():
        raise OutputError(f"output folder {final.parent} does not exist; create it or choose another -o")
    return final


@contextmanager
def atomic_path(final: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it to ``final`` if the block succeeds.

    :func:`geocrobim.atomic.replacing` with the output checks: the temporary name keeps
    the suffix (drivers choose formats by extension) and is hidden
    (``.name.tmp-XXXXXXXX.ext``). Sidecar files written with the same stem are renamed
    along with it. On any exception the temporary file and its sidecars are removed and
    nothing appears at ``final``.

    Args:
        final: The output path.
        overwrite: Replace an existing ``final``.

    Yields:
        The temporary path to write.

    Raises:
        OutputError: ``final`` exists without ``overwrite``, its folder is missing, or the
            block wrote nothing.
    """
    final = check_output_path(final, overwrite)
    with replacing(final, with_sidecars=True) as tmp:
        yield tmp
        if not tmp.exists():
            raise OutputError(f"nothing was written for {final}")
        if final.exists() and not overwrite:  # appeared while we were writing
            raise OutputError(f"output {final} already exists; pass --overwrite to replace it")
