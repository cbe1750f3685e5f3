"""geocrobim.atomic: the one write-then-rename helper behind every output."""

from __future__ import annotations

from pathlib import Path

import pytest

from geocrobim.atomic import replacing, write_text
from geocrobim.errors import GeoCrobimError, one_line


def test_a_file_appears_only_when_complete(tmp_path: Path) -> None:
    final = tmp_path / "mask.tif"
    with replacing(final) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".tif" and tmp.name.startswith(".mask.tmp-")
        tmp.write_bytes(b"new")
        assert not final.exists()
    assert final.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["mask.tif"]


def test_a_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    final = write_text(tmp_path / "style.qml", "old")
    with pytest.raises(RuntimeError), replacing(final, with_sidecars=True) as tmp:
        tmp.write_text("half")
        tmp.with_name(tmp.stem + ".dbf").write_text("sidecar")
        raise RuntimeError("disk full")
    assert final.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["style.qml"]


def test_folders_and_sidecars_replace_their_targets(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "stale.json").write_text("{}")
    with replacing(folder) as tmp:
        tmp.mkdir()
        (tmp / "config.json").write_text("{}")
    assert [p.name for p in folder.iterdir()] == ["config.json"]
    with replacing(tmp_path / "polygons.shp", with_sidecars=True) as tmp:
        tmp.write_text("shp")
        tmp.with_name(tmp.stem + ".dbf").write_text("dbf")
    assert sorted(p.name for p in tmp_path.glob("polygons.*")) == ["polygons.dbf", "polygons.shp"]


def test_one_line() -> None:
    assert one_line(OSError("disk\n  full")) == "OSError: disk full"
    assert one_line(OSError("disk\n  full"), typed=False) == "disk full"
    assert one_line(GeoCrobimError("bad --gsd; pass a number")) == "bad --gsd; pass a number"
    assert one_line(KeyError()) == "KeyError: KeyError()"
