"""What a synthetic scene is made of: objects, the river, roads, parcels, the light.

A :class:`Layout` is the complete, GSD-free description of a scene in metres
(x east, y south from the top-left corner). Rendering it at any GSD, or any window
of it, gives the image; its objects are what expressions refer to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geocrobim.data.synthetic.palette import Grading
from geocrobim.data.synthetic.shapes import Footprint

#: categories an expression may refer to, with the nouns it may use for them.
NOUNS: dict[str, tuple[str, ...]] = {
    "warehouse": ("warehouse", "warehouse", "industrial building", "storage building"),
    "house": ("house", "house", "residential building", "home"),
    "storage tank": ("storage tank", "storage tank", "oil tank", "tank"),
    "ship": ("ship", "ship", "vessel", "boat"),
    "vehicle": ("vehicle", "vehicle", "car"),
    "swimming pool": ("swimming pool", "swimming pool", "pool"),
    "tennis court": ("tennis court",),
    "basketball court": ("basketball court",),
    "roundabout": ("roundabout", "roundabout", "traffic circle"),
    "bridge": ("bridge",),
    "lake": ("lake", "lake", "pond"),
    "river": ("river",),
}

#: categories that carry a colour attribute; their objects' ``colour`` is a palette name.
COLOURED = frozenset({"warehouse", "house", "storage tank", "vehicle", "ship", "tennis court", "basketball court"})


@dataclass
class SceneObject:
    """One object of a scene.

    Attributes:
        id: index in :attr:`Layout.objects`.
        category: a key of :data:`NOUNS`, or a non-referable kind ("tree", "parking").
        footprint: its shape in scene metres.
        colour: colour name (see :mod:`palette`) or None.
        size: "small" / "large" (discrete size modes, so the words are never borderline) or None.
        form: shape word ("rectangular", "square", "L-shaped", "round", "oval", "elongated") or None.
        height: metres above ground, for the shadow.
        host: what it stands on ("river", "lake", "road", "bridge", "parking") or None.
        style: renderer parameters (rgb, roof kind, ...); not part of the semantics.
    """

    id: int
    category: str
    footprint: Footprint
    colour: str | None = None
    size: str | None = None
    form: str | None = None
    height: float = 0.0
    host: str | None = None
    style: dict[str, Any] = field(default_factory=dict)

    @property
    def referable(self) -> bool:
        """True for categories expressions may name."""
        return self.category in NOUNS

    @property
    def polygon(self) -> BaseGeometry:
        """The footprint's shape in scene metres (what the grammar measures)."""
        return self.footprint.polygon

    def to_json(self) -> dict[str, Any]:
        """Semantic description for the scene index."""
        return {
            "id": self.id,
            "category": self.category,
            "colour": self.colour,
            "size": self.size,
            "form": self.form,
            "host": self.host,
            "footprint": self.footprint.to_json(),
        }


@dataclass(frozen=True)
class River:
    """A river: its centreline and water polygon.

    Attributes:
        centreline: (N, 2) points, upstream to downstream, in metres.
        water: water polygon.
        banks: water polygon grown by the bank strip.
        axis: unit vector of the river's overall direction (x, y).
    """

    centreline: np.ndarray
    water: BaseGeometry
    banks: BaseGeometry
    axis: tuple[float, float]

    def side(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Signed distance (m) of points from the centreline: > 0 left of the flow, < 0 right.

        The centreline is a function along :attr:`axis` (it never folds back), so the
        sign is well defined everywhere.
        """
        ax, ay = self.axis
        along = self.centreline @ np.array([ax, ay])
        across = self.centreline @ np.array([ay, -ax])
        p_along = np.asarray(x) * ax + np.asarray(y) * ay
        p_across = np.asarray(x) * ay - np.asarray(y) * ax
        return p_across - np.interp(p_along, along, across)

    def compass_side(self, direction: str) -> int | None:
        """+1 or -1: which :meth:`side` sign lies to ``direction`` (north/south/east/west).

        None if the river runs too diagonally for that word to be clear.
        """
        ax, ay = self.axis
        normal = np.array([ay, -ax])  # the direction of positive side()
        target = {"north": (0, -1), "south": (0, 1), "east": (1, 0), "west": (-1, 0)}[direction]
        cos = float(normal @ np.asarray(target))
        if abs(cos) < math.cos(math.radians(35)):
            return None
        return 1 if cos > 0 else -1


@dataclass(frozen=True)
class Road:
    """A road: centreline (N, 2) metres, carriageway width, asphalt colour, verge colour.

    ``verge`` is a kerb/sidewalk strip colour, or None where grass meets the asphalt.
    """

    centreline: np.ndarray
    width: float
    rgb: tuple[float, float, float] = (90.0, 91.0, 94.0)
    verge: tuple[float, float, float] | None = None

    @property
    def line(self) -> shapely.LineString:
        """The centreline as a shapely line."""
        return shapely.LineString(self.centreline)


@dataclass(frozen=True)
class Parcel:
    """A piece of land with one land use.

    Attributes:
        geom: polygon in metres.
        use: "grass", "crop", "ripe", "ploughed", "forest", "yard" (industrial),
            "lawn" (residential), "sports".
        rgb: (3,) base colour.
        stripes: (angle radians, period metres, amplitude) of field rows; amplitude 0 for none.
    """

    geom: BaseGeometry
    use: str
    rgb: tuple[float, float, float]
    stripes: tuple[float, float, float] = (0.0, 1.0, 0.0)


@dataclass
class Layout:
    """A whole scene, GSD-free.

    Attributes:
        width: extent east-west, metres.
        height: extent north-south, metres.
        seed: a 32-bit fingerprint of the seed sequence it was generated from.
        objects: every object; referable ones are targets and distractors.
        parcels: land use, drawn first.
        river: the river or None.
        roads: roads (drawn over parcels, under objects).
        water_rgb: (deep, shallow) water colours.
        sun: (azimuth degrees clockwise from north the light comes from, elevation degrees).
        grading: the sensor look.
        noise_key: selects this scene's noise fields.
    """

    width: float
    height: float
    seed: int
    objects: list[SceneObject]
    parcels: list[Parcel]
    river: River | None
    roads: list[Road]
    water_rgb: tuple[tuple[float, float, float], tuple[float, float, float]]
    sun: tuple[float, float]
    grading: Grading
    noise_key: int
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _bounds: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def shadow_vector(self) -> np.ndarray:
        """Ground displacement (x, y) of a shadow per metre of height."""
        az, elev = np.radians(self.sun[0]), np.radians(self.sun[1])
        return np.array([-math.sin(az), math.cos(az)]) / math.tan(elev)

    @property
    def sun_direction(self) -> np.ndarray:
        """Unit ground vector (x, y) pointing towards the sun."""
        az = np.radians(self.sun[0])
        return np.array([math.sin(az), -math.cos(az)])

    def referable(self) -> list[SceneObject]:
        """Objects expressions may name, targets and distractors alike."""
        return [o for o in self.objects if o.referable]

    def add(self, category: str, footprint: Footprint, **kwargs: Any) -> SceneObject:
        """Append an object with the next id and return it."""
        obj = SceneObject(len(self.objects), category, footprint, **kwargs)
        self.objects.append(obj)
        self._bounds = None
        self.cache.clear()
        return obj

    def object_bounds(self) -> np.ndarray:
        """(N, 4) float64 bounds (minx, miny, maxx, maxy) of every object, cached."""
        if self._bounds is None or len(self._bounds) != len(self.objects):
            self._bounds = np.asarray([o.footprint.bounds for o in self.objects], np.float64).reshape(-1, 4)
        return self._bounds
