"""The "geocrobim" Processing provider."""

from qgis.core import QgsProcessingProvider

from .algorithm import ReferringSegmentationAlgorithm


class GeoCrobimProvider(QgsProcessingProvider):
    """Provider id ``geocrobim``; algorithm ``geocrobim:referringsegmentation``."""

    def id(self):
        return "geocrobim"

    def name(self):
        return "geocrobim"

    def longName(self):  # noqa: N802 - QGIS API name
        return "geocrobim (referring segmentation with CroBIM)"

    def loadAlgorithms(self):  # noqa: N802 - QGIS API name
        self.addAlgorithm(ReferringSegmentationAlgorithm())
