"""The plugin object: registers the Processing provider, nothing else (no toolbar, no dock)."""

from qgis.core import QgsApplication

from .provider import GeoCrobimProvider


class GeoCrobimPlugin:
    """Registers :class:`GeoCrobimProvider` with the Processing registry."""

    def __init__(self, iface):
        self.iface = iface
        self.provider = None

    def initProcessing(self):  # noqa: N802 - QGIS API name; qgis_process calls only this
        if self.provider is None:
            self.provider = GeoCrobimProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802 - QGIS API name
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
