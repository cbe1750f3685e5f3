"""Atomic replacement: write under a hidden temporary name beside the target, then rename.

Every file or folder geocrobim hands to a user (COGs, vectors, styles, checkpoints,
converted weights, synthetic scenes, the QGIS plugin) is written through
:func:`replacing`, so a reader never sees half of it and a failure leaves nothing at the
final path. The temporary name sits in the target's folder (same filesystem: the final
``os.replace`` is atomic) and keeps the target's suffix, because GDAL drivers choose a
format by extension. Standard library only: the GIS layers and the QGIS plugin's installer
use it without torch.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_path(final: Path) -> Path:
    """A fresh hidden name beside ``final`` with its suffix: ``.STEM.tmp-XXXXXXXX.SUFFIX``."""
    return final.with_name(f".{final.stem}.tmp-{uuid.uuid4().hex[:8]}{final.suffix}")


def sidecars(path: Path) -> list[Path]:
    """Files beside ``path`` named after its stem (``.aux.xml``, ``.dbf``, ``.shx``, ``.qml`` ...)."""
    prefix = path.stem + "."
    return [p for p in path.parent.iterdir() if p.name.startswith(prefix) and p != path]


@contextmanager
def replacing(final: str | os.PathLike[str], *, with_sidecars: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; move it onto ``final`` when the block succeeds.

    The block writes a file or creates a folder at the yielded path. On success it replaces
    ``final`` (an existing folder is removed first: a rename cannot replace a non-empty
    folder, so for an instant neither is there). On any exception, the temporary path is
    removed, the exception propagates and ``final`` is untouched.

    Args:
        final: the target file or folder; its folder must exist.
        with_sidecars: also move the files a driver wrote beside the temporary file with
            its stem (a Shapefile's ``.dbf``, a raster's ``.aux.xml``), renamed after ``final``.

    Yields:
        The temporary path to write.
    """
    final = Path(final)
    tmp = temporary_path(final)
    try:
        yield tmp
        if with_sidecars:
            for sidecar in sidecars(tmp):
                os.replace(sidecar, final.with_name(final.stem + sidecar.name[len(tmp.stem) :]))
        if tmp.is_dir() and final.is_dir():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        remove(tmp, *(sidecars(tmp) if with_sidecars and tmp.parent.is_dir() else []))
        raise


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`replacing`); returns the path."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def remove(*paths: Path) -> None:
    """Remove files or folders that may not exist (clean-up: errors are ignored)."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
