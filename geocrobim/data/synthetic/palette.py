"""Colours of the synthetic world, as seen from above in 8-bit RGB.

Named colours are what expressions may say ("red-roofed"); each name has a few
shades so that two red roofs are never the same red. Land-cover colours are
measured by eye from ordinary 0.3-1 m aerial orthophotos (summer, mid latitudes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RGB = tuple[int, int, int]

#: colour name -> shades (attribute colours that expressions may name).
NAMED: dict[str, tuple[RGB, ...]] = {
    "red": ((160, 66, 52), (172, 84, 64), (142, 56, 48), (166, 74, 58)),
    "blue": ((66, 96, 138), (56, 84, 124), (80, 110, 150), (62, 100, 132)),
    "grey": ((128, 130, 132), (110, 112, 116), (146, 146, 145), (120, 122, 120)),
    "white": ((228, 228, 224), (216, 219, 221), (236, 234, 228), (222, 224, 218)),
    "green": ((70, 112, 80), (58, 98, 70), (84, 124, 88), (64, 106, 88)),
    "black": ((34, 34, 36), (44, 42, 42), (28, 30, 34)),
    "orange": ((196, 112, 58), (184, 100, 52), (206, 124, 68)),
}

#: colour names each category may carry (and expressions may use), with weights.
CATEGORY_COLOURS: dict[str, dict[str, float]] = {
    "warehouse": {"red": 1.0, "blue": 1.0, "grey": 1.2, "white": 1.0, "green": 0.7},
    "house": {"red": 2.0, "grey": 1.4, "white": 0.5, "blue": 0.3, "green": 0.3},
    "storage tank": {"white": 2.0, "grey": 1.0, "green": 0.4},
    "vehicle": {"white": 1.5, "black": 1.2, "grey": 1.2, "red": 0.6, "blue": 0.6},
    "ship": {"white": 1.5, "grey": 1.0, "red": 0.6, "black": 0.4},
    "tennis court": {"green": 1.0, "blue": 1.0, "red": 0.8},
    "basketball court": {"blue": 1.0, "green": 0.8, "red": 0.8, "orange": 0.8},
}

#: land cover name -> base shades.
LAND: dict[str, tuple[RGB, ...]] = {
    "grass": ((96, 118, 64), (110, 128, 70), (86, 110, 60), (122, 130, 80), (104, 120, 74)),
    "crop": ((92, 124, 56), (108, 138, 62), (74, 112, 52), (126, 140, 70)),
    "ripe": ((190, 172, 112), (176, 160, 98), (198, 182, 128), (168, 150, 96)),
    "ploughed": ((136, 112, 84), (150, 126, 94), (120, 102, 80), (160, 140, 110)),
    "forest": ((44, 66, 40), (50, 72, 42), (40, 60, 38)),
    "yard": ((166, 163, 154), (148, 146, 140), (176, 172, 160), (138, 134, 126)),
    "lawn": ((98, 126, 68), (108, 134, 72), (90, 118, 64)),
    "soil": ((156, 134, 104), (144, 124, 98)),
    "sand": ((186, 170, 134), (176, 160, 126), (196, 182, 146)),
    "mud": ((118, 106, 88), (104, 96, 80)),
    "asphalt": ((84, 86, 90), (96, 97, 100), (76, 78, 82), (108, 108, 110)),
    "concrete": ((168, 166, 160), (156, 155, 150)),
}

#: (deep, shallow) water shades; one pair per scene.
WATER: tuple[tuple[RGB, RGB], ...] = (
    ((36, 58, 68), (68, 92, 88)),
    ((30, 50, 72), (60, 86, 96)),
    ((52, 70, 58), (84, 102, 80)),
    ((66, 78, 76), (96, 106, 96)),
    ((40, 66, 82), (76, 104, 108)),
)


def shade(rng: np.random.Generator, name: str, table: dict[str, tuple[RGB, ...]] = NAMED) -> np.ndarray:
    """One shade of a named colour with a small brightness jitter, as float32 (3,)."""
    options = table[name]
    base = np.asarray(options[int(rng.integers(len(options)))], np.float32)
    return base * np.float32(rng.uniform(0.93, 1.07)) + rng.normal(0, 3, 3).astype(np.float32)


def pick_colour(rng: np.random.Generator, category: str, exclude: tuple[str, ...] = ()) -> str:
    """A colour name for a category, drawn by the category's weights."""
    weights = CATEGORY_COLOURS[category]
    names = [k for k in weights if k not in exclude]
    cumulative = np.cumsum([weights[n] for n in names])
    return names[int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))]


@dataclass(frozen=True)
class Grading:
    """Per-scene sensor and atmosphere look, applied after rendering.

    Attributes:
        gain: overall brightness factor.
        balance: (3,) per-channel white balance.
        saturation: 1 keeps colours; < 1 washes them out.
        haze: (3,) additive path radiance, 8-bit units.
        gamma: tone curve exponent on [0, 1].
        noise: sensor noise standard deviation, 8-bit units.
        blur: point-spread function Gaussian radius in pixels.
    """

    gain: float
    balance: tuple[float, float, float]
    saturation: float
    haze: tuple[float, float, float]
    gamma: float
    noise: float
    blur: float

    @classmethod
    def random(cls, rng: np.random.Generator) -> Grading:
        """A plausible look for one acquisition."""
        haze = rng.uniform(0, 22)
        return cls(
            gain=float(rng.uniform(0.88, 1.12)),
            balance=tuple(float(v) for v in rng.uniform(0.94, 1.06, 3)),  # type: ignore[arg-type]  # 3 floats; mypy cannot count a generator
            saturation=float(rng.uniform(0.62, 1.0)),
            haze=(haze * 0.9, haze * 0.97, haze * 1.08),
            gamma=float(rng.uniform(0.9, 1.1)),
            noise=float(rng.uniform(1.0, 3.5)),
            blur=float(rng.uniform(0.35, 0.85)),
        )

    def saturate(self, rgb: np.ndarray) -> np.ndarray:
        """Scale colour saturation of a float (..., 3) image; returns float32."""
        grey = rgb.mean(axis=-1, keepdims=True)
        return grey + (rgb - grey) * np.float32(self.saturation)

    def lut(self) -> np.ndarray:
        """(3, 256) uint8 tone curve per channel: gain and white balance, gamma, haze."""
        x = np.arange(256, dtype=np.float64)[None, :] * (np.asarray(self.balance)[:, None] * self.gain)
        y = 255.0 * np.power(np.clip(x / 255.0, 0.0, 1.0), self.gamma) + np.asarray(self.haze)[:, None]
        return np.clip(np.rint(y), 0, 255).astype(np.uint8)
