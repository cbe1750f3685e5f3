"""Is this input like what the model learnt from? One warning line for each way it is not.

A model trained on 0.3-2 m colour imagery still returns *an* answer on a 30 m Landsat scene
or a panchromatic band copied to three channels; nothing in the answer says it is a guess.
These checks run before the model does and add one line each to the run's warnings (the
human output and ``--json``'s ``warnings``). Words the vocabulary lacks and sentences past
the token limit are reported where the text is tokenised
(:class:`geocrobim.models.text_encoder.TextTokenizer`).
"""

from __future__ import annotations

import logging
from typing import Any

from geocrobim.inference.read_plan import ReadPlan
from geocrobim.raster import Scene, Stretch
from geocrobim.run_warnings import warn

logger = logging.getLogger(__name__)

#: A reading GSD this many times outside the model's training range is "far outside".
GSD_TOLERANCE = 1.5


def describe_input(scene: Scene, stretch: Stretch, value_range: tuple[float, float] | None) -> dict[str, Any]:
    """The bands fed to the model as R, G, B and the stretch applied (for ``-v`` and ``--json``)."""
    return {
        "bands": list(scene.bands),
        "stretch": {
            "low": [round(float(v), 4) for v in stretch.low],
            "high": [round(float(v), 4) for v in stretch.high],
            "from": "--range" if value_range is not None else "identity (8-bit RGB)" if stretch.identity
            else "2-98 % percentiles of the scene",
        },
    }  # fmt: skip


def warn_out_of_domain(scene: Scene, plan: ReadPlan, metadata: dict[str, Any]) -> list[str]:
    """Warn (one line each) where the scene is unlike the model's training data; returns the lines."""
    lines = []
    bands = list(scene.bands)
    if len(set(bands)) == 1:
        lines.append(
            f"{scene.path.name}: band {bands[0]} is copied to R, G and B (a single-band, panchromatic image); "
            "the model learnt from colour images, so colour words cannot be judged and scores are less reliable"
        )
    gsd_range = metadata.get("gsd_range_m")
    reading = plan.reading_gsd_m if plan.reading_gsd_m is not None else plan.source_gsd_m
    if gsd_range and reading is not None:
        low, high = float(gsd_range[0]), float(gsd_range[1])
        if reading > high * GSD_TOLERANCE or reading < low / GSD_TOLERANCE:
            scale = reading / high if reading > high else low / reading
            lines.append(
                f"{scene.path.name}: read at {reading:.3g} m per pixel, far outside the {low:g}-{high:g} m the model "
                f"was trained on (objects look {scale:.0f}x {'smaller' if reading > high else 'larger'} than any it "
                f"learnt); expect misses and wrong objects"
            )
    for line in lines:
        warn(logger, "%s", line)
    return lines
