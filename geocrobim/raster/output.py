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
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"output folder {folder} is a file, not a folder; choose another -o")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder} ({_reason(exc)}); choose another -o") from exc
    # A real probe: os.access says yes to root even on read-only mounts.
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".geocrobim-probe-"):
            pass
    except OSError as exc:
        raise OutputError(f"output folder {folder} is not writable ({_reason(exc)}); choose another -o") from exc
    return folder


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
