"""The user's vector layers, read into one table of features in the scene's CRS.

Any format GDAL reads (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, ...), through
pyogrio's raw reader (no pandas). Only features near the scene are read (a bounding-box
filter in the layer's own CRS), reprojected to the raster's CRS, and given:

- a category: ``PATH=CATEGORY`` on the command line, else the ``--category-field``
  attribute where the layer has it, else the layer's name made into a noun
  ("Buildings" -> "building", "water_bodies" -> "water body");
- grammar attributes: ``colour``, ``size`` and ``form`` read from the fields the user
  names (``--attribute colour=roof_colour``), lower-cased.

A feature keeps its whole geometry (a multipolygon is one feature; one cut by the scene
edge is kept whole and is simply never a target, see :mod:`~geocrobim.data.refdata.world`).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

from geocrobim.errors import InputNotFoundError, UsageError

logger = logging.getLogger(__name__)

#: grammar attributes a user may fill from a field (the slots of grammar.Filter).
ATTRIBUTES = ("colour", "size", "form")
_ALIASES = {"color": "colour", "shape": "form"}


@dataclass(frozen=True)
class LayerSpec:
    """One LAYER argument: ``PATH``, ``PATH:LAYERNAME``, either with ``=CATEGORY``.

    Attributes:
        path: the vector file (or folder, for a Shapefile folder).
        layer: the layer inside a multi-layer source, or None for its only layer.
        category: the category of all its features, or None (field or layer name).
    """

    path: Path
    layer: str | None = None
    category: str | None = None

    @classmethod
    def parse(cls, text: str) -> LayerSpec:
        """Parse ``PATH[:LAYER][=CATEGORY]`` (an existing path always wins over the separators)."""
        if Path(text).exists():
            return cls(Path(text))
        rest, category = text, None
        if "=" in rest and not Path(rest).exists():
            rest, category = rest.rsplit("=", 1)
            category = category.strip() or None
        layer = None
        if not Path(rest).exists() and ":" in rest:
            head, tail = rest.rsplit(":", 1)
            if Path(head).exists() and tail:
                rest, layer = head, tail
        return cls(Path(rest), layer, category)

    @property
    def label(self) -> str:
        """How messages name the layer."""
        return f"{self.path}:{self.layer}" if self.layer else str(self.path)


@dataclass
class Features:
    """All features of all layers, in the scene's CRS, as parallel arrays.

    Attributes:
        geoms: (N,) shapely geometries in the scene's CRS.
        category: (N,) category nouns.
        layer: (N,) layer labels.
        fid: (N,) feature ids within their layer.
        attrs: grammar attribute -> (N,) values (None where absent).
    """

    geoms: np.ndarray
    category: np.ndarray
    layer: np.ndarray
    fid: np.ndarray
    attrs: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.geoms)

    @cached_property
    def tree(self) -> shapely.STRtree:
        """Spatial index over :attr:`geoms`."""
        return shapely.STRtree(self.geoms)

    def attr(self, name: str, row: int) -> str | None:
        """A grammar attribute of one feature, or None."""
        values = self.attrs.get(name)
        return None if values is None else values[row]


def category_from_name(name: str) -> str:
    """A layer name made into a singular noun: "Buildings" -> "building", "water_bodies" -> "water body"."""
    words = [w for w in re.split(r"[\s_\-.]+", Path(name).stem.lower()) if w]
    if not words:
        return "object"
    last = words[-1]
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith(("ches", "shes", "sses", "xes")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith(("ss", "us", "is")) and len(last) > 3:
        last = last[:-1]
    return " ".join([*words[:-1], last])


def parse_attributes(pairs: Sequence[str]) -> dict[str, str]:
    """``["colour=roof_colour"]`` -> ``{"colour": "roof_colour"}``, names checked against the grammar."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, fieldname = pair.partition("=")
        name = _ALIASES.get(name.strip().lower(), name.strip().lower())
        if not sep or not fieldname.strip():
            raise UsageError(f"--attribute {pair!r} is not NAME=FIELD; e.g. --attribute colour=roof_colour")
        if name not in ATTRIBUTES:
            raise UsageError(f"--attribute {pair!r}: {name!r} is not a word the grammar uses; use one of {', '.join(ATTRIBUTES)}")
        out[name] = fieldname.strip()
    return out


def read_layers(
    specs: Sequence[LayerSpec],
    crs: CRS | str,
    bounds: tuple[float, float, float, float],
    *,
    category_field: str | None = None,
    attributes: Mapping[str, str] | None = None,
    make_valid: bool = False,
    require_features: bool = True,
) -> Features:
    """Read every layer's features that reach into ``bounds`` and reproject them to ``crs``.

    Args:
        specs: the layers.
        crs: the scene's CRS.
        bounds: (minx, miny, maxx, maxy) of the scene in ``crs``.
        category_field: attribute holding the category, used where a layer has it.
        attributes: grammar attribute -> field name (``{"colour": "roof_colour"}``).
        make_valid: repair invalid geometries (shapely.make_valid) instead of refusing them.
        require_features: refuse a layer with no feature in the scene.

    Returns:
        The features, in the order of the layers and of their feature ids.

    Raises:
        InputNotFoundError: a layer file does not exist.
        UsageError: a layer cannot be read, has no CRS or one that cannot be transformed to
            the scene's, lacks a named field, has an invalid geometry, or has nothing in the scene.
    """
    attributes = dict(attributes or {})
    dst = CRS.from_user_input(crs)
    scene_box = shapely.box(*bounds)
    parts: list[Features] = []
    seen_fields: dict[str, bool] = {name: False for name in [*attributes.values(), *([category_field] if category_field else [])]}
    all_fields: set[str] = set()
    for spec in specs:
        part, fields = _read_one(spec, dst, bounds, scene_box, category_field, attributes, make_valid)
        all_fields |= set(fields)
        for name in seen_fields:
            seen_fields[name] |= name in fields
        if require_features and not len(part):
            raise UsageError(
                f"layer {spec.label} has no feature inside the scene (scene bounds {_fmt(bounds)} in {_crs_name(dst)}); "
                "check that the layer covers the scene and that its CRS is declared correctly"
            )
        parts.append(part)
    missing = [name for name, seen in seen_fields.items() if not seen]
    if missing:
        raise UsageError(
            f"no layer has the field {missing[0]!r} (fields: {', '.join(sorted(all_fields)) or 'none'}); "
            "name an existing field in --attribute / --category-field"
        )
    return _concat(parts, list(attributes))


def _read_one(
    spec: LayerSpec,
    dst: CRS,
    bounds: tuple[float, float, float, float],
    scene_box: shapely.Geometry,
    category_field: str | None,
    attributes: Mapping[str, str],
    make_valid: bool,
) -> tuple[Features, list[str]]:
    import pyogrio
    import pyogrio.raw
    from pyogrio.errors import DataLayerError, DataSourceError

    if not spec.path.exists():
        raise InputNotFoundError(f"layer {spec.path} does not exist; check the path")
    try:
        layers = pyogrio.list_layers(spec.path)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise UsageError(f"{spec.path} is not a vector file GDAL can read ({_one_line(exc)}); export it as GeoPackage") from exc
    names = [str(n) for n in layers[:, 0]]
    if spec.layer is None and len(names) > 1:
        raise UsageError(f"{spec.path} holds {len(names)} layers ({', '.join(names)}); choose one as {spec.path}:LAYER")
    if spec.layer is not None and spec.layer not in names:
        raise UsageError(f"{spec.path} has no layer {spec.layer!r}; it has {', '.join(names)}")
    layer = spec.layer or (names[0] if names else None)
    try:
        info = pyogrio.read_info(spec.path, layer=layer)
    except (DataSourceError, DataLayerError) as exc:
        raise UsageError(f"cannot read layer {spec.label} ({_one_line(exc)}); export it as GeoPackage") from exc
    fields = [str(f) for f in info["fields"]]
    if info.get("crs") is None:
        raise UsageError(f"layer {spec.label} has no CRS; declare it (ogr2ogr -a_srs EPSG:XXXX out.gpkg in.shp)")
    try:
        src = CRS.from_user_input(info["crs"])
        to_scene = Transformer.from_crs(src, dst, always_xy=True)
        to_layer = Transformer.from_crs(dst, src, always_xy=True)
        bbox = to_layer.transform_bounds(*bounds, errcheck=True)
    except (CRSError, ProjError) as exc:
        raise UsageError(
            f"layer {spec.label}: its CRS {_crs_name_safe(info['crs'])} cannot be transformed to the scene's "
            f"{_crs_name(dst)} ({_one_line(exc)}); reproject the layer (ogr2ogr -t_srs) or fix its CRS"
        ) from exc
    if not all(math.isfinite(v) for v in bbox):
        raise UsageError(
            f"layer {spec.label}: the scene's area has no place in the layer's CRS {_crs_name(src)}; "
            "reproject the layer to the scene's CRS (ogr2ogr -t_srs) or fix its CRS"
        )
    wanted = [f for f in dict.fromkeys([*attributes.values(), *([category_field] if category_field else [])]) if f in fields]
    try:
        _, fids, wkb, field_data = pyogrio.raw.read(
            spec.path, layer=layer, columns=wanted, bbox=tuple(bbox), return_fids=True, force_2d=True
        )
    except (DataSourceError, DataLayerError) as exc:
        raise UsageError(f"cannot read layer {spec.label} ({_one_line(exc)}); export it as GeoPackage") from exc
    values = dict(zip(wanted, field_data, strict=True))
    geoms = shapely.from_wkb(wkb) if wkb is not None else np.empty(0, dtype=object)
    fids = np.asarray(fids if fids is not None else np.arange(len(geoms)), np.int64)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    geoms, fids = geoms[present], fids[present]
    values = {k: np.asarray(v, dtype=object)[present] for k, v in values.items()}
    bad = np.flatnonzero(~shapely.is_valid(geoms))
    if len(bad):
        if not make_valid:
            reason = shapely.is_valid_reason(geoms[bad[0]])
            raise UsageError(
                f"layer {spec.label}: feature {fids[bad[0]]} (and {len(bad) - 1} more) has an invalid geometry ({reason}); "
                "pass --make-valid to repair it, or fix the layer (ogr2ogr -makevalid)"
            )
        geoms[bad] = shapely.make_valid(geoms[bad])
        logger.info("layer %s: repaired %d invalid geometries", spec.label, len(bad))
    geoms = _reproject(geoms, to_scene, spec, src, dst)
    inside = shapely.intersects(geoms, scene_box)
    geoms, fids = geoms[inside], fids[inside]
    values = {k: v[inside] for k, v in values.items()}
    n = len(geoms)
    if spec.category is not None:
        category = np.full(n, spec.category.strip().lower(), dtype=object)
    elif category_field is not None and category_field in values:
        default = category_from_name(layer or spec.path.name)
        category = np.asarray([_word(v) or default for v in values[category_field]], dtype=object)
    else:
        category = np.full(n, category_from_name(layer or spec.path.name), dtype=object)
    attrs = {name: np.asarray([_word(v) for v in values[f]], dtype=object) if f in values else np.full(n, None, dtype=object)
             for name, f in attributes.items()}  # fmt: skip
    logger.info("layer %s: %d features in the scene (category %s)", spec.label, n, ", ".join(sorted(set(category))) or "-")
    return Features(geoms, category, np.full(n, spec.label, dtype=object), fids, attrs), fields


def read_polygons(path: Path, crs: CRS | str, bounds: tuple[float, float, float, float]) -> shapely.Geometry:
    """The union of a polygon file's features in ``crs`` (a holdout area)."""
    spec = LayerSpec.parse(str(path))
    features = read_layers([spec], crs, bounds, make_valid=True)
    polygonal = [g for g in features.geoms if shapely.get_type_id(g) in (3, 6)]
    if not polygonal:
        raise UsageError(f"{spec.label} has no polygon inside the scene; draw the holdout area as a polygon")
    return shapely.union_all(polygonal)


def _reproject(geoms: np.ndarray, transformer: Transformer, spec: LayerSpec, src: CRS, dst: CRS) -> np.ndarray:
    if src == dst or not len(geoms):
        return geoms

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out = shapely.transform(geoms, project)
    coords = shapely.get_coordinates(out)
    if not np.isfinite(coords).all():
        raise UsageError(
            f"layer {spec.label}: some coordinates cannot be transformed from {_crs_name(src)} to the scene's "
            f"{_crs_name(dst)}; check the layer's CRS (a wrong CRS puts features off the map) or reproject it"
        )
    return out


def _concat(parts: list[Features], attributes: list[str]) -> Features:
    if not parts:
        empty = np.empty(0, dtype=object)
        return Features(empty, empty.copy(), empty.copy(), np.empty(0, np.int64), {a: empty.copy() for a in attributes})
    return Features(
        np.concatenate([p.geoms for p in parts]),
        np.concatenate([p.category for p in parts]),
        np.concatenate([p.layer for p in parts]),
        np.concatenate([p.fid for p in parts]),
        {a: np.concatenate([p.attrs[a] for p in parts]) for a in attributes},
    )


def _word(value: object) -> str | None:
    """A field value as a lower-case word, or None for null or blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = " ".join(str(value).split()).lower()
    return text or None


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _crs_name_safe(text: object) -> str:
    try:
        return _crs_name(CRS.from_user_input(text))
    except CRSError:
        return str(text)[:60]


def _fmt(bounds: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in bounds) + ")"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
