"""Inputs: folders, globs, rasters, CSV/YAML/JSONL manifests and local STAC, into items."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from batch_helpers import EXPR, SCENE_IDS, batch_args, invoke, item_records

from geocrobim.batch import collect_items
from geocrobim.errors import InputNotFoundError, UsageError


def as_table(items) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {i.scene_id: (i.scene.name, i.expressions) for i in items}


def test_folder_walks_subfolders_skips_hidden_and_non_rasters(archive):
    items = collect_items([archive], [EXPR])
    assert [i.scene_id for i in items] == SCENE_IDS
    assert all(i.scene.is_absolute() and i.expressions == (EXPR,) for i in items)


def test_folder_skips_the_output_folder_inside_it(archive, tmp_path):
    root = tmp_path / "in"
    (root / "out" / "x").mkdir(parents=True)
    (root / "a.tif").write_bytes((archive / "tile_e.tif").read_bytes())
    (root / "out" / "x" / "x.mask.tif").write_bytes(b"")
    assert [i.scene_id for i in collect_items([root], [EXPR], exclude=[root / "out"])] == ["a"]


def test_glob_and_single_raster(archive):
    items = collect_items([str(archive / "**" / "tile_*.tif"), archive / "tile_e.tif"], [EXPR])
    assert [i.scene_id for i in items] == SCENE_IDS  # tile_e listed twice: one item
    assert [i.scene_id for i in collect_items([str(archive / "2024" / "*.tif")], [EXPR])] == ["tile_a", "tile_b"]


def test_missing_inputs_and_missing_expressions_are_errors(archive, tmp_path):
    with pytest.raises(InputNotFoundError, match="nowhere"):
        collect_items([tmp_path / "nowhere"], [EXPR])
    with pytest.raises(UsageError, match="holds no raster"):
        collect_items([str(tmp_path / "*.tif")], [EXPR])
    with pytest.raises(UsageError, match="no expression"):
        collect_items([archive], [])


def test_colliding_ids_get_a_stable_hash_suffix(archive, tmp_path):
    for folder in ("a b", "a-b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.tif").write_bytes((archive / "tile_e.tif").read_bytes())
    (tmp_path / "merged.tif").write_bytes(b"")
    ids = [i.scene_id for i in collect_items([tmp_path], [EXPR])]
    assert len(set(ids)) == 3 and all(i.startswith(("a-b-x-", "merged-")) and len(i) > 8 for i in ids)
    assert ids == [i.scene_id for i in collect_items([tmp_path], [EXPR])]


def write_manifests(archive: Path, folder: Path) -> dict[str, Path]:
    folder.mkdir()
    rel = Path(os.path.relpath(archive, folder))
    csv = folder / "scenes.csv"
    csv.write_text(
        "scene,expression,id\n"
        f"{rel}/2024/tile_a.tif,the white building,a\n"
        f"{rel}/2024/tile_a.tif,the dark field,a\n"
        f"{archive}/tile_e.tif,the white building,\n"
    )
    yaml = folder / "scenes.yaml"
    yaml.write_text(
        "expressions: [the white building]\n"
        "items:\n"
        f"  - {{scene: {rel}/2024/tile_a.tif, expression: the dark field, id: a}}\n"
        f"  - {archive}/tile_e.tif\n"
    )
    jsonl = folder / "scenes.jsonl"
    jsonl.write_text(
        json.dumps({"scene": f"{rel}/2024/tile_a.tif", "expressions": [EXPR, "the dark field"], "id": "a"})
        + "\n\n" + json.dumps({"path": str(archive / "tile_e.tif"), "expression": "the white building"}) + "\n"
    )
    return {"csv": csv, "yaml": yaml, "jsonl": jsonl}


@pytest.mark.parametrize("kind", ["csv", "yaml", "jsonl"])
def test_manifests_give_scenes_with_their_expressions(archive, tmp_path, kind):
    manifest = write_manifests(archive, tmp_path / "m")[kind]
    items = collect_items([manifest])
    table = as_table(items)
    assert set(table) == {"a", "tile_e"} and all(i.scene.is_file() for i in items)
    assert table["tile_e"] == ("tile_e.tif", ("the white building",))
    assert table["a"][0] == "tile_a.tif" and set(table["a"][1]) == {"the white building", "the dark field"}


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [("m.csv", "path_to,expression\nx.tif,y\n", "no 'scene' column"),
     ("m.yaml", "items: [[1, 2]]\n", "give a mapping"),
     ("m.yaml", "items: [{scene: x.tif, expressions: 3}]\n", "list of sentences"),
     ("m.yaml", "{a: [\n", "not valid YAML"),
     ("m.jsonl", "{\"scene\": \"x.tif\"}\n[1]\n", "m.jsonl:2"),
     ("m.jsonl", "{\"expression\": \"y\"}\n", "no 'scene' path")],
)
def test_bad_manifests_name_the_entry(tmp_path, name, text, fragment):
    (tmp_path / name).write_text(text)
    with pytest.raises(UsageError, match=fragment):
        collect_items([tmp_path / name], [EXPR])


def item(item_id: str, href: str, **assets: dict) -> dict:
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": item_id, "geometry": None, "properties": {},
        "assets": {"visual": {"href": href, "type": "image/tiff; application=geotiff"}, **assets}, "links": [],
    }


def test_stac_item_collection_and_catalog_with_relative_links(archive, tmp_path):
    stac = tmp_path / "stac"
    (stac / "items").mkdir(parents=True)
    rel = Path(os.path.relpath(archive, stac / "items"))  # from stac/items/ and stac/child/
    top = Path(os.path.relpath(archive, tmp_path))
    collection = {"type": "FeatureCollection", "features": [
        item("S2A_2024_A", f"{top}/2024/tile_a.tif"),
        {**item("B", ""), "assets": {"thumb": {"href": "b.png", "type": "image/png"},
                                     "rgb": {"href": f"{top}/2024/tile_b.tif",
                                             "type": "image/tiff; application=geotiff"}},
         "properties": {"geocrobim:expressions": ["the dark field"]}},
    ]}
    (tmp_path / "collection.json").write_text(json.dumps(collection))
    items = collect_items([tmp_path / "collection.json"], [EXPR])
    assert all(i.scene.is_file() for i in items)
    table = as_table(items)
    assert table == {"S2A_2024_A": ("tile_a.tif", (EXPR,)), "B": ("tile_b.tif", ("the dark field", EXPR))}

    (stac / "items" / "e.json").write_text(json.dumps(item("E", f"{rel}/tile_e.tif")))
    (stac / "child").mkdir()
    (stac / "child" / "catalog.json").write_text(json.dumps({
        "type": "Catalog", "id": "child",
        "links": [{"rel": "item", "href": "./d.json"}, {"rel": "parent", "href": "../catalog.json"}],
    }))
    (stac / "child" / "d.json").write_text(json.dumps(item("D", f"{rel}/2025/tile_d.tif")))
    (stac / "catalog.json").write_text(json.dumps({"type": "Catalog", "id": "root", "links": [
        {"rel": "self", "href": "./catalog.json"}, {"rel": "item", "href": "items/e.json"},
        {"rel": "child", "href": "child/catalog.json"},
    ]}))
    items = collect_items([stac / "catalog.json"], [EXPR])
    assert all(i.scene.is_file() for i in items)
    assert as_table(items) == {
        "D": ("tile_d.tif", (EXPR,)), "E": ("tile_e.tif", (EXPR,))
    }


def test_stac_asset_choice_and_errors(archive, tmp_path):
    path = tmp_path / "one.json"
    pan = {"href": str(archive / "2024" / "tile_a.tif")}
    path.write_text(json.dumps(item("A", str(archive / "tile_e.tif"), pan=pan)))
    assert collect_items([path], [EXPR], asset="pan")[0].scene.name == "tile_a.tif"
    with pytest.raises(UsageError, match="no asset 'nir'.*pass --asset"):
        collect_items([path], [EXPR], asset="nir")
    path.write_text(json.dumps(item("A", "https://example.com/a.tif")))
    with pytest.raises(UsageError, match="remote"):
        collect_items([path], [EXPR])
    path.write_text(json.dumps({"type": "Catalog", "links": [{"rel": "child", "href": "gone.json"}]}))
    with pytest.raises(UsageError, match="gone.json"):
        collect_items([path], [EXPR])


def test_a_manifest_batch_and_a_stac_batch_run(archive, checkpoint, tmp_path):
    manifest = write_manifests(archive, tmp_path / "m")["yaml"]
    result = invoke("batch", manifest, "-o", tmp_path / "out", "--checkpoint", checkpoint, "--device", "cpu",
                    "--no-coarse", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    groups = sorted((m["expression"], m["group"], m["scene_ids"]) for m in summary["merged"])
    assert summary["ok"] == 2 and groups == [  # tile_a at 0.5 m, tile_e at 1 m: one mosaic each
        ("the dark field", "epsg32633-0.5m", ["a"]), (EXPR, "epsg32633-0.5m", ["a"]), (EXPR, "epsg32633-1m", ["tile_e"])]
    assert sorted(p.name for p in (tmp_path / "out" / "a").glob("*.mask.tif")) == [
        "tile_a.the-dark-field.mask.tif", "tile_a.the-white-building.mask.tif"]

    stac = tmp_path / "c.json"
    stac.write_text(json.dumps({"type": "FeatureCollection", "features": [item("S2B_X", str(archive / "tile_e.tif"))]}))
    result = invoke(*batch_args(stac, tmp_path / "out2", checkpoint, "--asset", "visual"))
    assert result.exit_code == 0, result.output
    (record,) = item_records(tmp_path / "out2")
    assert record["scene_id"] == "S2B_X" and record["status"] == "ok"
    assert (tmp_path / "out2" / "S2B_X" / "tile_e.the-white-building.mask.tif").exists()
