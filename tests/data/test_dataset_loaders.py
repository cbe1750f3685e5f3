"""RISBench, RRSIS-D and RefSegRS loaders on tiny fixtures written in each dataset's real layout."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from geocrobim.data import RRSISD, RefSegRS, RISBench
from geocrobim.data.rle import rle_encode
from geocrobim.errors import DatasetError


def rgb(seed: int, size: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)


def box_mask(size: int, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    m = np.zeros((size, size), bool)
    m[r0:r1, c0:c1] = True
    return m


# -- RISBench ----------------------------------------------------------------------------------


@pytest.fixture()
def risbench(tmp_path: Path) -> Path:
    root = tmp_path / "RISBench_dataset"
    (root / "img_rgb").mkdir(parents=True)
    (root / "mask").mkdir()
    names = ["test_0_0", "test_0_1", "train_819_1", "test_5_2"]
    for i, name in enumerate(names):
        Image.fromarray(rgb(i, 32)).save(root / "img_rgb" / f"{name}.png")
        Image.fromarray(box_mask(32, 4, 10 + i, 6, 20).astype(np.uint8) * 255).save(root / "mask" / f"{name}.png")
    lines = [
        "test_0_0.png The large white storage tank at the top left",
        "test_0_1.png the ship next to the harbor",
        "train_819_1.png a known-bad file that must be skipped",
        "test_5_2 the airplane without an extension in the key",
    ]
    (root / "output_phrase_test.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_risbench_reads_the_layout(risbench: Path) -> None:
    ds = RISBench(risbench, "test")
    assert [r.id for r in ds.records] == ["test_0_0", "test_0_1", "test_5_2"]  # the known-bad one is skipped
    s = ds[0]
    assert s["expression"] == "The large white storage tank at the top left" and s["id"] == "test_0_0"
    assert s["image"].shape == (3, 32, 32) and str(s["image"].dtype) == "torch.uint8"
    assert np.array_equal(s["image"].numpy().transpose(1, 2, 0), rgb(0, 32))
    assert s["mask"].dtype.is_floating_point is False
    assert np.array_equal(s["mask"].numpy(), box_mask(32, 4, 10, 6, 20).astype(np.int64))
    assert ds[2]["expression"].startswith("the airplane")


def test_risbench_resize_and_transforms(risbench: Path) -> None:
    seen = []
    ds = RISBench(risbench, "test", image_size=16, transforms=lambda s: seen.append(s["id"]) or s)
    s = ds[1]
    assert s["image"].shape == (3, 16, 16) and s["mask"].shape == (16, 16)
    assert set(s["mask"].unique().tolist()) == {0, 1}  # nearest: still a binary mask
    assert seen == ["test_0_1"]


def test_risbench_reports_missing_files(risbench: Path) -> None:
    (risbench / "mask" / "test_0_1.png").unlink()
    with pytest.raises(DatasetError, match=r"test_0_1\.png.*expected layout"):
        RISBench(risbench, "test")
    with pytest.raises(DatasetError, match=r"output_phrase_val\.txt"):
        RISBench(risbench, "val")
    with pytest.raises(DatasetError, match="img_rgb"):
        RISBench(risbench.parent / "elsewhere", "test")


# -- RRSIS-D -----------------------------------------------------------------------------------


def write_rrsisd(root: Path, *, nested: bool = True) -> dict[int, np.ndarray]:
    """refs(unc).p (a real pickle) + instances.json (one RLE-list, one polygon annotation) + JPEGs."""
    ann_dir = root / "rrsisd" if nested else root
    img_dir = root / "images" / "rrsisd" / "JPEGImages" if nested else root / "JPEGImages"
    ann_dir.mkdir(parents=True, exist_ok=True)
    img_dir.mkdir(parents=True, exist_ok=True)
    size = 40
    for image_id in (1, 2, 413):
        Image.fromarray(np.full((size, size, 3), image_id % 255, np.uint8)).save(img_dir / f"{image_id:05d}.jpg")
    rle_part_a = box_mask(size, 2, 12, 3, 15)
    rle_part_b = box_mask(size, 8, 20, 10, 25)  # overlaps part a: the union keeps the overlap
    polygon = [[20.0, 20.0, 35.0, 20.0, 35.0, 30.0, 20.0, 30.0]]
    instances = {
        "images": [{"file_name": f"{i:05d}.jpg", "height": size, "width": size, "id": i} for i in (1, 2, 413)],
        "annotations": [
            {"bbox": [3, 2, 25, 20], "categories_id": 13, "id": 1, "image_id": 1, "area": 999999,
             "segmentation": [rle_encode(rle_part_a), rle_encode(rle_part_b)]},
            {"bbox": [20, 20, 35, 30], "categories_id": 18, "id": 2, "image_id": 2, "area": 5, "segmentation": polygon},
            {"bbox": [0, 0, 5, 5], "categories_id": 2, "id": 413, "image_id": 413, "area": 1,
             "segmentation": [rle_encode(box_mask(size, 0, 5, 0, 5))]},
        ],
        "categories": [{"name": "ship", "id": 13}, {"name": "vehicle", "id": 18}, {"name": "airplane", "id": 2}],
    }  # fmt: skip
    (ann_dir / "instances.json").write_text(json.dumps(instances), encoding="utf-8")

    def ref(i: int, split: str, text: str) -> dict:
        sent = {"tokens": text.split(), "raw": text, "sent_id": i, "sent": text.lower()}
        return {"image_id": i, "split": split, "sentences": [sent], "file_name": f"{i:05d}.jpg", "category_id": 0,
                "ann_id": i, "sent_ids": [i], "ref_id": i}  # fmt: skip

    refs = [ref(1, "test", "The ship on the left"), ref(2, "test", "vehicle at the bottom right"),
            ref(413, "test", "a known-bad image"), ref(2, "train", "a training ref")]  # fmt: skip
    (ann_dir / "refs(unc).p").write_bytes(pickle.dumps(refs, protocol=2))
    return {1: rle_part_a | rle_part_b}


def test_rrsisd_rle_and_polygons(tmp_path: Path) -> None:
    expected = write_rrsisd(tmp_path)
    ds = RRSISD(tmp_path, "test")
    assert [s.expression for s in ds.records] == ["The ship on the left", "vehicle at the bottom right"]
    ship = ds[0]
    assert ship["image"].shape == (3, 40, 40) and ship["id"] == "1_1"
    assert np.array_equal(ship["mask"].numpy().astype(bool), expected[1])
    vehicle = ds[1]["mask"].numpy()
    assert vehicle[25, 27] == 1 and vehicle[5, 5] == 0
    assert abs(int(vehicle.sum()) - 15 * 10) <= 30  # the polygon's area, give or take its outline
    assert len(RRSISD(tmp_path, "train")) == 1


def test_rrsisd_flat_layout_and_resize(tmp_path: Path) -> None:
    write_rrsisd(tmp_path, nested=False)
    ds = RRSISD(tmp_path, "test", image_size=20)
    assert ds[0]["image"].shape == (3, 20, 20) and ds[0]["mask"].shape == (20, 20)


def test_rrsisd_reports_missing_pieces(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"refs\(unc\)\.p.*expected layout"):
        RRSISD(tmp_path, "test")
    write_rrsisd(tmp_path)
    (tmp_path / "images" / "rrsisd" / "JPEGImages" / "00002.jpg").unlink()
    with pytest.raises(DatasetError, match=r"00002\.jpg"):
        RRSISD(tmp_path, "test")


def test_rrsisd_refuses_malicious_refs(tmp_path: Path) -> None:
    write_rrsisd(tmp_path)

    class Evil:
        def __reduce__(self) -> tuple:
            import os

            return (os.system, ("true",))

    (tmp_path / "rrsisd" / "refs(unc).p").write_bytes(pickle.dumps([Evil()]))
    with pytest.raises(DatasetError, match="not loaded"):
        RRSISD(tmp_path, "test")


# -- RefSegRS ----------------------------------------------------------------------------------


def write_tif(path: Path, bands: np.ndarray) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=bands.shape[2], height=bands.shape[1], count=bands.shape[0],
                       dtype="uint8") as dst:  # fmt: skip
        dst.write(bands)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # RefSegRS tiles carry no georeferencing
def test_refsegrs_reads_tifs_with_foreground_above_zero(tmp_path: Path) -> None:
    root = tmp_path / "RefSegRS"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in (25, 1489):
        write_tif(root / "images" / f"{i}.tif", rgb(i, 24).transpose(2, 0, 1))
    mask = np.zeros((1, 24, 24), np.uint8)
    mask[0, 2:6, 3:9] = 1  # 1 and 255 are both foreground
    mask[0, 10:12, 10:20] = 255
    write_tif(root / "masks" / "25.tif", mask)
    write_tif(root / "masks" / "1489.tif", mask)
    (root / "output_phrase_val.txt").write_text(
        "25 light-duty vehicle driving on the road\n1489 car driving on the road\n25 vehicle on the road\n", encoding="utf-8"
    )
    ds = RefSegRS(root, "val")
    assert [r.id for r in ds.records] == ["25", "1489", "25_1"]
    s = ds[0]
    assert s["expression"] == "light-duty vehicle driving on the road"
    assert np.array_equal(s["image"].numpy().transpose(1, 2, 0), rgb(25, 24))
    assert int(s["mask"].sum()) == 4 * 6 + 2 * 10
    with pytest.raises(DatasetError, match=r"output_phrase_test\.txt"):
        RefSegRS(root, "test")
    with pytest.raises(DatasetError, match="unknown split"):
        RefSegRS(root, "dev")
