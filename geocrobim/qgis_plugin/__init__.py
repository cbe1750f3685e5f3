"""The QGIS plugin shipped inside the package, and how to install or zip it.

``geocrobim_qgis/`` is a complete QGIS plugin folder (a Processing provider). It is package
data, not imported by geocrobim (it imports ``qgis``). :func:`install_plugin` copies it into a
QGIS profile and records which geocrobim executable installed it, so the plugin finds this
environment without any configuration; :func:`zip_plugin` builds the zip that QGIS's
"Install from ZIP" takes.
"""

from __future__ import annotations

import os
import shutil
import sys
import zipfile
from pathlib import Path

from geocrobim.atomic import replacing
from geocrobim.errors import OutputError

#: The plugin's folder name (QGIS plugin id).
PLUGIN_NAME = "geocrobim_qgis"
#: Written into the installed plugin: the geocrobim executable of this environment.
HINT_FILE = "geocrobim_exe.txt"
#: Copied into the installed plugin: the choice lists its runner offers (geocrobim/choices.py).
CHOICES_FILE = "choices.py"
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", HINT_FILE)


def plugin_source() -> Path:
    """The plugin folder inside the installed package."""
    return Path(__file__).with_name(PLUGIN_NAME)


def choices_source() -> Path:
    """``geocrobim/choices.py``, which the plugin's runner loads by path."""
    return Path(__file__).parent.parent / CHOICES_FILE


def default_profile_dir() -> Path:
    """QGIS 3's default user profile folder on this platform."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "QGIS" / "QGIS3" / "profiles" / "default"


def geocrobim_executable() -> Path | None:
    """The ``geocrobim`` console script of the running environment, if there is one."""
    scripts = Path(sys.executable).parent
    for name in ("geocrobim", "geocrobim.exe"):
        if (scripts / name).is_file():
            return scripts / name
    found = shutil.which("geocrobim")
    return Path(found) if found else None


def install_plugin(profile_dir: str | os.PathLike[str] | None = None) -> Path:
    """Copy the plugin into ``<profile>/python/plugins/geocrobim_qgis`` (replacing an older copy).

    Args:
        profile_dir: a QGIS profile folder; default :func:`default_profile_dir`.

    Returns:
        The installed plugin folder.
    """
    profile = Path(profile_dir) if profile_dir is not None else default_profile_dir()
    target = profile / "python" / "plugins" / PLUGIN_NAME
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with replacing(target) as staging:
            shutil.copytree(plugin_source(), staging, ignore=_SKIP)
            shutil.copyfile(choices_source(), staging / CHOICES_FILE)
            executable = geocrobim_executable()
            if executable is not None:
                (staging / HINT_FILE).write_text(str(executable), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot install the QGIS plugin into {target.parent} ({exc.strerror or exc}); pass --profile-dir") from exc
    return target


def zip_plugin(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write the plugin as a zip for QGIS's "Install from ZIP" (top folder ``geocrobim_qgis/``)."""
    path = Path(path)
    if path.suffix.lower() != ".zip":
        path = path.with_name(path.name + ".zip")
    if path.exists() and not overwrite:
        raise OutputError(f"output {path} already exists; pass --overwrite to replace it")
    source = plugin_source()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(source.rglob("*")):
                if file.is_file() and "__pycache__" not in file.parts and file.name != HINT_FILE and file.suffix != ".pyc":
                    archive.write(file, Path(PLUGIN_NAME) / file.relative_to(source))
            archive.write(choices_source(), Path(PLUGIN_NAME) / CHOICES_FILE)
    except OSError as exc:
        raise OutputError(f"cannot write {path} ({exc.strerror or exc}); choose a writable folder") from exc
    return path
