"""``geocrobim qgis-plugin``: install the QGIS Processing provider, or zip it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from geocrobim.cli._common import handle_errors
from geocrobim.errors import UsageError


@click.command("qgis-plugin")
@click.option("--install", is_flag=True, help="Copy the plugin into a QGIS profile's plugins folder.")
@click.option("--profile-dir", type=click.Path(path_type=Path), help="QGIS profile folder [default: QGIS 3's 'default' profile].")
@click.option("--zip", "zip_path", type=click.Path(path_type=Path), help="Write an installable zip (Plugins > Install from ZIP).")
@click.option("--overwrite", is_flag=True, help="Replace an existing zip.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON on stdout.")
@handle_errors
def qgis_plugin(install: bool, profile_dir: Path | None, zip_path: Path | None, overwrite: bool, as_json: bool) -> None:
    """Install geocrobim's QGIS plugin ("Referring segmentation" in the Processing toolbox).

    The plugin runs this environment's geocrobim in a separate process, so QGIS never
    imports torch. After --install, enable "geocrobim" in QGIS's plugin manager.

    \b
    $ geocrobim qgis-plugin --install
    $ geocrobim qgis-plugin --zip geocrobim_qgis.zip
    """
    from geocrobim.qgis_plugin import geocrobim_executable, install_plugin, zip_plugin

    if not install and zip_path is None:
        raise UsageError("nothing to do: pass --install (optionally with --profile-dir DIR) or --zip FILE")
    if profile_dir is not None and not install:
        raise UsageError("--profile-dir only applies to --install; add --install")
    written: dict[str, str] = {}
    if install:
        written["installed"] = str(install_plugin(profile_dir))
        executable = geocrobim_executable()
        written["executable"] = str(executable) if executable else ""
    if zip_path is not None:
        written["zip"] = str(zip_plugin(zip_path, overwrite=overwrite))
    if as_json:
        click.echo(json.dumps(written))
        return
    if "installed" in written:
        click.echo(f"installed the QGIS plugin in {written['installed']}; enable 'geocrobim' in Plugins > Manage and Install Plugins", err=True)
        if not written["executable"]:
            click.echo("geocrobim's executable was not found: set GEOCROBIM_EXE for QGIS, or the algorithm's 'geocrobim executable'", err=True)
    if "zip" in written:
        click.echo(f"wrote {written['zip']}; install it with Plugins > Manage and Install Plugins > Install from ZIP", err=True)
