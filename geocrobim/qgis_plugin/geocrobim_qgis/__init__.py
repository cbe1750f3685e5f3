"""QGIS plugin entry point: QGIS (and qgis_process) call :func:`classFactory`."""


def classFactory(iface):  # noqa: N802 - the name QGIS looks for
    """Create the plugin; ``iface`` is None inside qgis_process."""
    from .plugin import GeoCrobimPlugin

    return GeoCrobimPlugin(iface)
