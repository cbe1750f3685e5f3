"""Processing algorithm "Referring segmentation": geocrobim segment, out of process."""

import json
from pathlib import Path

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputString,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsSettings,
)

from . import runner

_SETTING = "geocrobim/executable"


class ReferringSegmentationAlgorithm(QgsProcessingAlgorithm):
    """Find, in a raster layer, the object each expression refers to.

    Runs ``geocrobim segment LAYER EXPRESSION... -o FOLDER --json`` with the user's own
    geocrobim (so torch never loads in QGIS), reports its progress, stops it on Cancel, and
    loads the masks and polygons, which carry their QGIS styles (.qml sidecar, GeoPackage
    layer_styles), when the algorithm finishes.
    """

    INPUT = "INPUT"
    EXPRESSIONS = "EXPRESSIONS"
    CHECKPOINT = "CHECKPOINT"
    DEVICE = "DEVICE"
    FORMAT = "FORMAT"
    EXECUTABLE = "GEOCROBIM_EXE"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    MASKS = "MASKS"
    VECTORS = "VECTORS"
    SUMMARY = "SUMMARY"

    def name(self):
        return "referringsegmentation"

    def displayName(self):  # noqa: N802 - QGIS API name
        return "Referring segmentation"

    def group(self):
        return "Segmentation"

    def groupId(self):  # noqa: N802 - QGIS API name
        return "segmentation"

    def shortHelpString(self):  # noqa: N802 - QGIS API name
        return (
            "Finds, in the raster layer, the one object each expression names "
            "(e.g. 'the red-roofed warehouse north of the river'), with the CroBIM model.<br>"
            "One expression per line. Writes per expression a mask (Cloud-Optimized GeoTIFF) and "
            "polygons in the chosen format into the output folder, both styled for QGIS.<br>"
            "geocrobim runs in its own Python environment: install it there (pip install geocrobim) "
            "and give its executable below, or set GEOCROBIM_EXE, or put it on PATH."
        )

    def createInstance(self):  # noqa: N802 - QGIS API name
        return ReferringSegmentationAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Raster layer"))
        self.addParameter(QgsProcessingParameterString(self.EXPRESSIONS, "Expressions (one per line)", multiLine=True))
        self.addParameter(QgsProcessingParameterString(self.CHECKPOINT, "Checkpoint (folder or name)", defaultValue="default"))
        self.addParameter(QgsProcessingParameterEnum(self.DEVICE, "Device", options=list(runner.DEVICES), defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(self.FORMAT, "Vector format", options=list(runner.FORMATS), defaultValue=0))
        executable = QgsProcessingParameterFile(
            self.EXECUTABLE, "geocrobim executable", behavior=QgsProcessingParameterFile.File, optional=True,
            defaultValue=QgsSettings().value(_SETTING, "") or None,
            fileFilter="All files (*)",  # the default "(*.*)" refuses an executable without extension
        )
        executable.setFlags(executable.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(executable)
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, "Output folder"))
        self.addOutput(QgsProcessingOutputMultipleLayers(self.MASKS, "Masks"))
        self.addOutput(QgsProcessingOutputMultipleLayers(self.VECTORS, "Polygons"))
        self.addOutput(QgsProcessingOutputString(self.SUMMARY, "JSON summary"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException("the raster layer could not be loaded")
        explicit = self.parameterAsFile(parameters, self.EXECUTABLE, context)
        output_dir = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context)
        try:
            executable = runner.find_executable(explicit, QgsSettings().value(_SETTING, ""))
            command = runner.build_command(
                executable,
                layer.source(),
                self.parameterAsString(parameters, self.EXPRESSIONS, context).splitlines(),
                output_dir,
                checkpoint=self.parameterAsString(parameters, self.CHECKPOINT, context),
                device=runner.DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
                vector_format=runner.FORMATS[self.parameterAsEnum(parameters, self.FORMAT, context)],
            )
            if explicit:
                QgsSettings().setValue(_SETTING, explicit)  # remembered for the next run
            feedback.pushCommandInfo(" ".join(f'"{a}"' if " " in a else a for a in command))
            summary = runner.run(
                command, on_progress=feedback.setProgress, on_message=feedback.pushInfo, is_canceled=feedback.isCanceled
            )
        except runner.Canceled:
            feedback.reportError("canceled: geocrobim was stopped", fatalError=False)
            return {self.OUTPUT_FOLDER: output_dir, self.MASKS: [], self.VECTORS: [], self.SUMMARY: ""}
        except runner.RunError as exc:
            raise QgsProcessingException(str(exc)) from exc
        masks, vectors = self._load_on_completion(summary, context)
        return {self.OUTPUT_FOLDER: output_dir, self.MASKS: masks, self.VECTORS: vectors, self.SUMMARY: json.dumps(summary)}

    def _load_on_completion(self, summary, context):
        """Queue every mask and vector output for loading; their styles come with them."""
        masks, vectors = [], []
        for expression, mask, vector, _ in runner.outputs_of(summary):
            if mask:
                masks.append(mask)
                self._queue(context, mask, f"{expression} (mask)", QgsProcessingUtils.LayerHint.Raster)
            if vector:
                source = vector
                if vector.lower().endswith(".gpkg"):  # the feature layer, not layer_styles
                    source = f"{vector}|layername={Path(vector).stem}"
                vectors.append(source)
                self._queue(context, source, expression, QgsProcessingUtils.LayerHint.Vector)
        return masks, vectors

    @staticmethod
    def _queue(context, source, name, layer_type):
        details = QgsProcessingContext.LayerDetails(name, context.project(), name, layer_type)
        context.addLayerToLoadOnCompletion(source, details)

