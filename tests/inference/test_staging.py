"""Output names and the all-or-nothing staging folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from geocrobim.errors import OutputError, UsageError
from geocrobim.inference.outputs import Staging, plan_outputs, vector_extension


def test_output_names(tmp_path):
    [paths] = plan_outputs(tmp_path, "scene", ["the-pond"], vector_format="fgb", probabilities=True)
    assert paths.mask.name == "scene.the-pond.mask.tif"
    assert paths.probabilities is not None and paths.probabilities.name == "scene.the-pond.prob.tif"
    assert paths.vector.name == "scene.the-pond.fgb" and paths.quicklook.name == "scene.the-pond.quicklook.png"
    [plain] = plan_outputs(tmp_path, "scene", ["x"], vector_format="gpkg", probabilities=False)
    assert plain.probabilities is None and plain.files() == [plain.mask, plain.vector, plain.quicklook]
    with pytest.raises(UsageError, match="not supported"):
        vector_extension("kml")


def stage(staging: Staging, *finals: Path) -> None:
    for final in finals:
        staging.path(final).write_text(final.name)


def test_commit_moves_files_and_sidecars_and_removes_the_staging_folder(tmp_path):
    mask, shp = tmp_path / "s.x.mask.tif", tmp_path / "s.x.shp"
    with Staging(tmp_path) as staging:
        stage(staging, mask, shp)
        staging.path(mask).with_suffix(".qml").write_text("style")
        staging.path(shp).with_suffix(".dbf").write_text("table")
        (staging.work / "big-temporary.tif").write_text("scratch")
        staging.commit([mask, shp])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.x.dbf", "s.x.mask.qml", "s.x.mask.tif", "s.x.shp"]


def test_failure_discards_everything(tmp_path):
    final = tmp_path / "s.x.mask.tif"
    with pytest.raises(RuntimeError), Staging(tmp_path) as staging:
        stage(staging, final)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_outputs_are_refused_unless_overwrite(tmp_path):
    final, other = tmp_path / "s.x.mask.tif", tmp_path / "s.x.gpkg"
    final.write_text("old")
    with pytest.raises(OutputError, match="already exists"):
        Staging(tmp_path).check([final, other])
    with Staging(tmp_path) as staging:  # a file that appears during the run is caught at commit
        stage(staging, final, other)
        with pytest.raises(OutputError, match="already exists"):
            staging.commit([other, final])
    assert final.read_text() == "old" and not other.exists()
    with Staging(tmp_path, overwrite=True) as staging:
        stage(staging, final)
        staging.commit([final])
    assert final.read_text() == final.name


def test_unwritable_output_folder_is_an_output_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot write"), Staging(blocker / "out"):
        pass
