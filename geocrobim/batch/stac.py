"""Local STAC: an ItemCollection, a Catalog or Collection (links walked), or one Item.

Links (``rel`` ``child`` and ``item``) and asset hrefs are resolved relative to the JSON
file that holds them, as the STAC spec says for relative hrefs, so a catalog copied with
its assets works anywhere. Remote hrefs (``http(s)://``, ``s3://``...) are refused: the
batch reads local files (download the assets first).

The asset used per item is ``asset`` when given, else ``visual``, else the first asset
whose media type is a (Geo)TIFF. An item's own expressions may be given in its
properties as ``geocrobim:expressions`` (a sentence or a list).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from geocrobim.batch.manifest import Candidate
from geocrobim.errors import UsageError

#: Asset key preferred when no --asset is given (STAC best practice for true colour).
DEFAULT_ASSET = "visual"
#: Property holding an item's own expressions.
EXPRESSIONS_PROPERTY = "geocrobim:expressions"


def read_stac(path: Path, asset: str | None = None) -> list[Candidate]:
    """Scenes of every item reachable from a STAC JSON file.

    Raises:
        UsageError: not STAC JSON, a missing link target, no usable asset, a remote href.
    """
    found: list[Candidate] = []
    _walk(path.resolve(), asset, found, seen=set())
    return found


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"STAC file {path} not found (linked from the catalog); fix the link href") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read STAC file {path} ({exc}); give a STAC JSON file") from exc
    if not isinstance(doc, dict) or "type" not in doc:
        raise UsageError(f"{path} is not STAC JSON (no 'type'); give an ItemCollection, Catalog, Collection or Item")
    return doc


def _walk(path: Path, asset: str | None, found: list[Candidate], seen: set[Path]) -> None:
    if path in seen:  # catalogs may link back (rel=root/parent are skipped, but be safe)
        return
    seen.add(path)
    doc = _load(path)
    kind = doc["type"]
    if kind == "FeatureCollection":
        for feature in doc.get("features", []):
            found.append(_item(feature, path, asset))
    elif kind == "Feature":
        found.append(_item(doc, path, asset))
    elif kind in ("Catalog", "Collection"):
        for link in doc.get("links", []):
            if link.get("rel") in ("child", "item") and link.get("href"):
                _walk(_local(link["href"], path), asset, found, seen)
    else:
        raise UsageError(f"{path} has STAC type {kind!r}; expected FeatureCollection, Catalog, Collection or Feature")


def _local(href: str, base: Path) -> Path:
    """A link or asset href as a local path, relative hrefs against ``base``'s folder."""
    parsed = urlparse(href)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path)).resolve()
    if parsed.scheme and len(parsed.scheme) > 1:  # a one-letter scheme is a Windows drive
        raise UsageError(f"STAC href {href!r} in {base} is remote; download the assets and use local hrefs")
    return (base.parent / href).resolve()


def _item(item: dict[str, Any], base: Path, asset: str | None) -> Candidate:
    item_id = str(item.get("id") or base.stem)
    assets = item.get("assets") or {}
    key = _choose_asset(assets, asset)
    if key is None:
        wanted = f"asset {asset!r}" if asset else f"a {DEFAULT_ASSET!r} or GeoTIFF asset"
        raise UsageError(
            f"STAC item {item_id!r} in {base} has no {wanted} (assets: {', '.join(assets) or 'none'}); pass --asset KEY"
        )
    expressions = (item.get("properties") or {}).get(EXPRESSIONS_PROPERTY, [])
    if isinstance(expressions, str):
        expressions = [expressions]
    if not isinstance(expressions, list) or not all(isinstance(e, str) for e in expressions):
        raise UsageError(f"STAC item {item_id!r}: {EXPRESSIONS_PROPERTY} must be a sentence or a list of sentences")
    return (_local(assets[key]["href"], base), list(expressions), item_id)


def _choose_asset(assets: dict[str, Any], asset: str | None) -> str | None:
    usable = {k: a for k, a in assets.items() if isinstance(a, dict) and a.get("href")}
    if asset is not None:
        return asset if asset in usable else None
    if DEFAULT_ASSET in usable:
        return DEFAULT_ASSET
    return next((k for k, a in usable.items() if "tiff" in str(a.get("type", "")).lower()), None)
