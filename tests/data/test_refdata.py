"""geocrobim.data.refdata on tiny layers with a real CRS over a raster with a non-identity transform.

The scene: 400 x 200 px at 0.5 m in UTM 33N (200 m x 100 m, origin 480000 E, 5120000 N),
read at 1 m into 64 px chips (64 m). An east-west river crosses it at 40-48 m from the
top; buildings (written in WGS84, so they are reprojected) lie north and south of it;
a road (UTM) runs north-south at 30 m from the west edge.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from PIL import Image
from pyproj import Transformer

from geocrobim.data.refdata import (
    HOLDOUT,
    TRAIN,
    LayerSpec,
    Source,
    category_from_name,
    chip_world,
    make_refdata,
    parse_attributes,
    plan_chips,
    query_from_json,
    query_to_json,
    read_index,
    read_layers,
)
from geocrobim.data.refdata.describe import describe, targets
from geocrobim.data.refdata.world import burn
from geocrobim.data.synthetic.grammar import Filter, Nearest, Query, RiverSide
from geocrobim.data.synthetic.phrases import realise
from geocrobim.errors import UsageError

CRS = "EPSG:32633"
X0, Y0 = 480_000.0, 5_120_000.0  # top-left corner of the scene
TRANSFORM = (0.5, 0.0, X0, 0.0, -0.5, Y0)


def utm(x: float, y: float) -> tuple[float, float]:
    """Scene metres (x east, y south from the top-left) -> UTM."""
    return X0 + x, Y0 - y


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    """A box given in scene metres, in UTM."""
    (a, b), (c, d) = utm(x0, y1), utm(x1, y0)
    return shapely.box(a, b, c, d)


#: (fid, geometry in scene metres, roof colour) of the buildings.
BUILDINGS: list[tuple[int, Any, str | None]] = [
    (1, box(10, 10, 22, 20), "red"),        # north of the river, west
    (2, box(45, 8, 53, 16), "grey"),        # north, further east
    (3, box(40, 60, 58, 74), "red"),        # south, large
    (4, shapely.union_all([box(8, 62, 16, 70), box(18, 62, 24, 68)]), "blue"),  # a multipolygon, south-west
    (5, box(124, 20, 138, 30), "grey"),     # crosses the holdout border at x = 130 m
    (6, box(160, 60, 172, 72), "red"),      # held-out part
    (7, box(180, 10, 192, 22), None),       # held-out part, no colour
    (8, box(195, 80, 210, 90), "grey"),     # cut by the scene's east edge
]  # fmt: skip


def scene_data(count: int = 3, dtype: str = "uint8") -> np.ndarray:
    rng = np.random.default_rng(0)
    hi = 255 if dtype == "uint8" else 4000
    data = rng.integers(0, hi // 4, size=(count, 200, 400)).astype(dtype)
    data[:, 80:96, :] = hi // 5  # the river, rows of 0.5 m: 40-48 m
    for _, geom, _ in BUILDINGS:
        x0, y1, x1, y0 = geom.bounds
        c0, c1 = int((x0 - X0) * 2), int((x1 - X0) * 2)
        r0, r1 = int((Y0 - y0) * 2), int((Y0 - y1) * 2)
        data[:, max(r0, 0) : r1, max(c0, 0) : c1] = hi - 1
    return data


@pytest.fixture
def world_files(tmp_path: Path, geotiff: Callable[..., Path]) -> dict[str, Path]:
    """The scene, buildings (WGS84, GeoPackage), roads (UTM, Shapefile), rivers (UTM, GeoJSON)."""
    scene = geotiff(scene_data(), transform=TRANSFORM)
    to_wgs = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    buildings = gpd.GeoDataFrame(
        {"fid_": [b[0] for b in BUILDINGS], "roof_colour": [b[2] for b in BUILDINGS]},
        geometry=[shapely.transform(b[1], lambda xy: np.column_stack(to_wgs.transform(xy[:, 0], xy[:, 1]))) for b in BUILDINGS], crs="EPSG:4326",
    )  # fmt: skip
    paths = {"scene": scene, "buildings": tmp_path / "Buildings.gpkg", "roads": tmp_path / "roads.shp",
             "rivers": tmp_path / "rivers.geojson"}  # fmt: skip
    buildings.to_file(paths["buildings"], driver="GPKG")
    road = shapely.LineString([utm(30, -10), utm(30, 110)])
    gpd.GeoDataFrame({"name": ["A1"]}, geometry=[road], crs=CRS).to_file(paths["roads"])
    gpd.GeoDataFrame({"name": ["Blue"]}, geometry=[box(-20, 40, 220, 48)], crs=CRS).to_file(paths["rivers"], driver="GeoJSON")
    return paths


def layers(p: dict[str, Path]) -> list[str]:
    return [str(p["buildings"]), str(p["roads"]), str(p["rivers"])]


# -- layers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "noun"),
    [("Buildings", "building"), ("water_bodies", "water body"), ("roads.shp", "road"), ("churches", "church"),
     ("grass", "grass"), ("bus", "bus"), ("river", "river")],
)  # fmt: skip
def test_category_from_layer_name(name: str, noun: str) -> None:
    assert category_from_name(name) == noun


def test_layer_spec_parsing(world_files: dict[str, Path]) -> None:
    b = world_files["buildings"]
    assert LayerSpec.parse(str(b)) == LayerSpec(b)
    assert LayerSpec.parse(f"{b}=house") == LayerSpec(b, None, "house")
    assert LayerSpec.parse(f"{b}:Buildings=house") == LayerSpec(b, "Buildings", "house")
    assert parse_attributes(["color=roof_colour"]) == {"colour": "roof_colour"}
    with pytest.raises(UsageError, match="not a word the grammar uses"):
        parse_attributes(["height=h"])


def test_layers_reprojected_to_the_scene_crs(world_files: dict[str, Path]) -> None:
    bounds = (X0, Y0 - 100, X0 + 200, Y0)
    f = read_layers([LayerSpec.parse(s) for s in layers(world_files)], CRS, bounds, attributes={"colour": "roof_colour"})
    assert sorted(set(f.category)) == ["building", "river", "road"]
    rows = np.flatnonzero(f.category == "building")
    assert len(rows) == len(BUILDINGS)
    for r in rows:  # back in UTM to well under a millimetre
        _, _, colour = next(b for b in BUILDINGS if shapely.hausdorff_distance(b[1], f.geoms[r]) < 1e-3)
        assert f.attr("colour", r) == colour
    assert shapely.get_num_geometries(f.geoms[rows][3]) == 2  # the multipolygon stays one feature


# -- the split -------------------------------------------------------------------------------


def test_split_parts_never_overlap(world_files: dict[str, Path]) -> None:
    source = Source.open(world_files["scene"], [LayerSpec.parse(s) for s in layers(world_files)])
    chips = plan_chips(source.scene, size=64, gsd=1.0, overlap=0.5, holdout=0.35, side="east")
    t = source.scene.transform
    train = [shapely.box(*c.bounds(t)) for c in chips if c.split == TRAIN]
    held = [shapely.box(*c.bounds(t)) for c in chips if c.split == HOLDOUT]
    assert train and held
    assert max(b.bounds[2] for b in train) <= X0 + 130 + 1e-6 <= min(b.bounds[0] for b in held) + 1e-6
    assert all(a.intersection(b).area == 0 for a in train for b in held)
    scene_box = shapely.box(*source.scene.bounds)
    assert all(scene_box.contains(b) for b in train + held)
    west = plan_chips(source.scene, size=64, gsd=1.0, holdout=0.35, side="west")
    assert all(shapely.box(*c.bounds(t)).bounds[2] <= X0 + 70 + 1e-6 for c in west if c.split == HOLDOUT)
    assert all(shapely.box(*c.bounds(t)).bounds[0] >= X0 + 70 - 1e-6 for c in west if c.split == TRAIN)
    with pytest.raises(UsageError, match="holds no whole chip"):
        plan_chips(source.scene, size=64, gsd=1.0, holdout=0.3)  # 60 m: less than one 64 m chip
    with pytest.raises(UsageError, match="what is left"):
        plan_chips(source.scene, size=64, gsd=1.0, holdout=0.8)


def test_holdout_polygon(world_files: dict[str, Path], tmp_path: Path) -> None:
    area = tmp_path / "test_area.gpkg"
    gpd.GeoDataFrame(geometry=[box(120, 0, 200, 100)], crs=CRS).to_file(area, driver="GPKG")
    out = tmp_path / "out"
    make_refdata(world_files["scene"], layers(world_files), out, gsd=1.0, size=64, holdout_polygon=area,
                 attributes={"colour": "roof_colour"})  # fmt: skip
    held = shapely.box(*box(120, 0, 200, 100).bounds)
    for rec in read_index(out):
        chip = shapely.box(*rec["bounds"])
        if rec["split"] == HOLDOUT:
            assert held.buffer(1e-6).contains(chip)
        else:
            assert chip.intersection(held).area == 0


# -- expressions -----------------------------------------------------------------------------


def test_every_expression_names_exactly_one_feature(world_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = make_refdata(world_files["scene"], layers(world_files), out, gsd=1.0, size=64, holdout=0.35,
                           attributes={"colour": "roof_colour"}, seed=3)  # fmt: skip
    records = read_index(out)
    assert summary.pairs[TRAIN] > 0 and summary.pairs[HOLDOUT] > 0
    assert len(records) == summary.pairs[TRAIN] + summary.pairs[HOLDOUT]
    source = Source.open(world_files["scene"], [LayerSpec.parse(s) for s in layers(world_files)],
                         attributes={"colour": "roof_colour"})  # fmt: skip
    from geocrobim.data.refdata.split import Chip

    with source.scene.open() as src:
        for rec in records:
            chip = Chip.from_json(rec["chip"])
            _, valid = source.read(chip, src)
            table = source.world(chip, valid).table()
            query = query_from_json(rec["query"])
            row = rec["target"]["row"]
            assert query.evaluate(table) == [row], rec["expression"]  # true of it, false of every other feature
            assert query.check(table) == table.index(row)  # and clearly so
            assert source.features.category[row] == "building" == rec["target"]["category"]
            fid = rec["target"]["fid"]
            assert fid not in (5, 8), "a feature cut by the holdout border or the scene edge is never a target"
            mask = np.asarray(Image.open(out / "mask" / rec["file"])) > 0
            target = next(o for o in table.objects if o.id == row)
            assert np.array_equal(mask, burn(target.polygon, chip))
    # the same pairs as GeoPackages for QGIS: target footprints labelled, chip footprints with their split
    import pyogrio.raw

    _, _, _, fields = pyogrio.raw.read(out / "targets.gpkg", layer="targets", columns=["file", "expression"])
    assert list(fields[0]) == [r["file"] for r in records] and list(fields[1]) == [r["expression"] for r in records]
    meta, _, _, (splits,) = pyogrio.raw.read(out / "chips.gpkg", layer="chips", columns=["split"])
    assert "32633" in meta["crs"] and set(splits) == {TRAIN, HOLDOUT}
    phrases = {s: (out / f"output_phrase_{s}.txt").read_text().splitlines() for s in (TRAIN, HOLDOUT)}
    assert [line.split(" ", 1)[1] for s in (TRAIN, HOLDOUT) for line in phrases[s]] == [r["expression"] for r in records]


def test_real_features_in_the_grammar(world_files: dict[str, Path]) -> None:
    """North of the river, nearest the road: relations to features of other layers."""
    source = Source.open(world_files["scene"], [LayerSpec.parse(s) for s in layers(world_files)],
                         attributes={"colour": "roof_colour"})  # fmt: skip
    chip = next(c for c in plan_chips(source.scene, size=64, gsd=1.0, overlap=0.0, holdout=0.35) if c.index == 0)
    table = chip_world(source.features, chip, source.scene.transform).table()
    fid = {int(source.features.fid[o.id]): i for i, o in enumerate(table.objects) if o.category == "building"}
    assert set(fid) == {1, 2, 3, 4}
    assert table.river is not None
    north = Query(Filter("building", colour="red"), RiverSide("north"))
    assert north.check(table) == fid[1]
    assert Query(Filter("building"), RiverSide("south")).check(table) is None  # two buildings south
    nearest = Query(Filter("building"), None, Nearest(Query(Filter("road"))))
    assert nearest.evaluate(table) == [table.ids[fid[4]]]  # the multipolygon, 6 m from the road
    assert realise(nearest, None) == "the building nearest the road"
    assert query_from_json(query_to_json(nearest)) == nearest
    rng = np.random.default_rng(0)
    rows = targets(chip_world(source.features, chip, source.scene.transform), table)
    assert sorted(rows) == sorted([fid[1], fid[2]])  # 3 and 4 are cut by the chip's bottom edge
    assert all(describe(table, r, rng) is not None for r in rows)


def test_panchromatic_uint16_scene_stretched_once(
    tmp_path: Path, geotiff: Callable[..., Path], world_files: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    vocab = tmp_path / "ckpt" / "tokenizer"
    vocab.mkdir(parents=True)
    (vocab / "vocab.txt").write_text("[PAD]\n[UNK]\nthe\nbuilding\nlargest\n")
    data = scene_data(count=1, dtype="uint16")
    data[:, :, :40] = 0  # a nodata strip along the west edge
    scene = geotiff(data, name="pan.tif", transform=TRANSFORM, nodata=0)
    out = tmp_path / "pan"
    make_refdata(scene, [f"{world_files['buildings']}=shed"], out, gsd=1.0, size=64, holdout=0.35,
                 checkpoint=str(tmp_path / "ckpt"))  # fmt: skip
    records = read_index(out)
    img = np.asarray(Image.open(out / "img_rgb" / records[0]["file"]))
    assert img.dtype == np.uint8 and img.shape == (64, 64, 3)
    assert np.array_equal(img[..., 0], img[..., 1]) and img.max() == 255
    assert all("shed" in r["expression"].lower() for r in records)
    assert "vocabulary lacks shed" in caplog.text  # the checkpoint's tokenizer does not know the word
    assert all(r["target"]["fid"] != 4 for r in records)  # partly on the nodata strip: never a target


def test_refdata_imports_neither_torch_nor_pandas() -> None:
    import subprocess
    import sys

    code = (
        "import sys, geocrobim.data.refdata, geocrobim.cli.refdata\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pandas', 'geopandas')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_multi_layer_geopackage_and_river_centreline(world_files: dict[str, Path], tmp_path: Path) -> None:
    """PATH:LAYER picks one layer of a GeoPackage; a river given as a centreline still has banks."""
    both = tmp_path / "both.gpkg"
    gpd.read_file(world_files["buildings"]).to_file(both, layer="houses", driver="GPKG")
    line = shapely.LineString([utm(-20, 44), utm(220, 44)])
    gpd.GeoDataFrame(geometry=[line], crs=CRS).to_file(both, layer="river_centrelines", driver="GPKG")
    bounds = (X0, Y0 - 100, X0 + 200, Y0)
    with pytest.raises(UsageError, match="holds 2 layers"):
        read_layers([LayerSpec.parse(str(both))], CRS, bounds)
    with pytest.raises(UsageError, match="has no layer 'roads'"):
        read_layers([LayerSpec.parse(f"{both}:roads")], CRS, bounds)
    specs = [LayerSpec.parse(f"{both}:houses"), LayerSpec.parse(f"{both}:river_centrelines=river")]
    source = Source.open(world_files["scene"], specs)
    assert sorted(set(source.features.category)) == ["house", "river"]
    chip = next(c for c in plan_chips(source.scene, size=64, gsd=1.0, overlap=0.0, holdout=0.35) if c.index == 0)
    table = chip_world(source.features, chip, source.scene.transform).table()
    assert table.river is not None and table.river.compass_side("north") is not None
    north = [i for i in range(len(table)) if table.category[i] == "house" and RiverSide("north").margins(table)[i] >= 1]
    assert sorted(int(source.features.fid[table.ids[i]]) for i in north) == [1, 2]


def test_geographic_raster(tmp_path: Path, geotiff: Callable[..., Path], world_files: dict[str, Path]) -> None:
    """A raster in WGS84 degrees is read at the metric GSD; expressions still re-check."""
    to_wgs = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon0, lat0 = to_wgs.transform(X0, Y0)
    lon1, lat1 = to_wgs.transform(X0 + 200, Y0 - 100)
    transform = (abs(lon1 - lon0) / 400, 0.0, lon0, 0.0, -abs(lat0 - lat1) / 200, lat0)
    scene = geotiff(scene_data(), name="wgs.tif", crs="EPSG:4326", transform=transform)
    out = tmp_path / "wgs"
    summary = make_refdata(scene, [str(world_files["buildings"])], out, gsd=1.0, size=64, holdout=0.35)
    assert summary.pairs[TRAIN] > 0
    source = Source.open(scene, [LayerSpec.parse(str(world_files["buildings"]))])
    from geocrobim.data.refdata.split import Chip

    for rec in read_index(out):
        chip = Chip.from_json(rec["chip"])
        assert 120 < chip.width < 136  # about 128 px of ~0.5 m for 64 m
        table = source.world(chip, None).table()
        assert query_from_json(rec["query"]).evaluate(table) == [rec["target"]["row"]]
