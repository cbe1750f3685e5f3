"""What :func:`segment_raster` returns: a JSON-able summary of one run.

``SegmentResult.to_dict()`` is the object ``geocrobim segment --json`` prints
(docs/architecture.md, "CLI contract"): the input, its CRS, the model, the reading plan,
and per expression the output paths, score, instance count, area and timings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geocrobim.inference.outputs import ExpressionPaths


@dataclass
class ExpressionResult:
    """Outcome for one expression.

    Attributes:
        expression: the sentence (whitespace collapsed).
        outputs: final paths of the files written.
        score: the best instance's score, None if no component was found. With a calibrated
            model it is the probability that the instance is the referent, and it is
            reported even when it falls under the model's threshold (then ``found`` is False).
        instances: number of polygons written.
        found: whether an instance was written (False: "not found", empty mask and layer).
        area: total area of the written polygons, in ``area_unit``.
        area_unit: ``m2`` (a georeferenced scene, equal-area in a geographic CRS), ``px2`` (no
            georeference: pixel space) or ``map units2`` (a transform without a CRS).
        components: connected components found before arbitration.
        timings: seconds per stage of this expression's post-processing.
        note: why the result is empty, when it is.
        scene_words: what the engine resolved over the whole scene ("rank 1 by easting, ...:
            4 candidate(s) of 'the swimming pool'"), None when the model read the whole sentence.
    """

    expression: str
    outputs: ExpressionPaths
    score: float | None = None
    instances: int = 0
    found: bool = False
    area: float = 0.0
    area_unit: str = "m2"
    components: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    scene_words: str | None = None

    @property
    def area_m2(self) -> float | None:
        """The area in square metres; None when the scene has no CRS (see ``area_unit``)."""
        return self.area if self.area_unit == "m2" else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "outputs": self.outputs.to_dict(),
            "score": None if self.score is None else round(self.score, 6),
            "found": self.found,
            "instances": self.instances,
            "area_m2": None if self.area_m2 is None else round(self.area_m2, 3),
            "area": round(self.area, 3),
            "area_unit": self.area_unit,
            "components": self.components,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "note": self.note,
            "scene_words": self.scene_words,
        }


@dataclass
class SegmentResult:
    """Outcome of one :func:`segment_raster` run.

    Attributes:
        input: the scene's path.
        crs: the scene's CRS as a string (``EPSG:32633`` when it has a code), None without one.
        width: scene columns.
        height: scene rows.
        model: model id, checkpoint, tile size and training GSD.
        reading: the reading plan and window counts of the passes.
        expressions: one result per expression, in input order.
        timings: seconds per shared stage (open, coarse, fine, post, total).
        warnings: warnings raised during the run, one line each.
    """

    input: Path
    crs: str | None
    width: int
    height: int
    model: dict[str, Any]
    reading: dict[str, Any]
    expressions: list[ExpressionResult]
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        return {
            "input": str(self.input),
            "crs": self.crs,
            "width": self.width,
            "height": self.height,
            "model": self.model,
            "reading": self.reading,
            "expressions": [e.to_dict() for e in self.expressions],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "warnings": list(self.warnings),
        }
