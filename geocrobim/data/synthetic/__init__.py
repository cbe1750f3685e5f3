"""Synthetic referring scenes: georeferenced top-down worlds, expressions with one target each.

Pipeline (all in metres, GSD-free until rendering)::

    generate_layout(w, h, seed)      river, roads, bridges, roundabouts, parcels, objects  (layout.py, parcels.py)
    ObjectTable + expressions        a query per target, checked to name it alone        (grammar.py, referents.py)
    realise(query)                   English                                             (phrases.py)
    render(layout, Grid)             RGB uint8 of any window at any GSD   (render.py, pixel_grid.py, terrain.py, painters.py)
    render_mask(object, Grid)        its ground truth                                     (render.py)

Front doors: :class:`ChipGenerator` (in-memory chips for training), :func:`write_chips`
(RISBench layout on disk), :func:`write_scene` (GeoTIFF + masks + JSON index). Nothing
here imports torch.
"""

from geocrobim.data.synthetic.chips import DEFAULT_GSDS, ChipGenerator, ChipSample, write_chips
from geocrobim.data.synthetic.grammar import ObjectTable, Query
from geocrobim.data.synthetic.layout import THEMES, generate_layout
from geocrobim.data.synthetic.pixel_grid import Grid
from geocrobim.data.synthetic.presets import SAMPLE_EXPRESSION, sample_layout
from geocrobim.data.synthetic.render import render, render_mask

__all__ = [
    "DEFAULT_GSDS",
    "SAMPLE_EXPRESSION",
    "THEMES",
    "ChipGenerator",
    "ChipSample",
    "Grid",
    "ObjectTable",
    "Query",
    "generate_layout",
    "render",
    "render_mask",
    "sample_layout",
    "write_chips",
    "write_scene",
]


def __getattr__(name: str) -> object:
    # write_scene needs rasterio; importing it lazily keeps the in-memory chip generator
    # (the trainer's data path) usable where rasterio is not installed, e.g. a GPU box.
    if name == "write_scene":
        from geocrobim.data.synthetic.scene_files import write_scene

        return write_scene
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
