"""The restricted unpickler loads data-only pickles and refuses anything that would run code."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from geocrobim.data.safe_pickle import load_pickle
from geocrobim.errors import DatasetError, InputNotFoundError

REFS = [
    {
        "image_id": 2934, "split": "train", "file_name": "02934.jpg", "category_id": 4, "ann_id": 2934,
        "sent_ids": [2934], "ref_id": 2934,
        "sentences": [{"tokens": ["The", "baseball", "field"], "raw": "The baseball field", "sent_id": 2934, "sent": "the baseball field"}],
    }
]  # fmt: skip


class Exploit:
    """Unpickling this calls os.system (what a malicious refs file would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_loads_refs(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "refs(unc).p"
    path.write_bytes(pickle.dumps(REFS, protocol=protocol))
    assert load_pickle(path) == REFS


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_refuses_code(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.p"
    path.write_bytes(pickle.dumps([{"ref_id": 1}, Exploit(marker)], protocol=protocol))
    with pytest.raises(DatasetError, match="system"):
        load_pickle(path)
    assert not marker.exists()


def test_refuses_other_classes(tmp_path: Path) -> None:
    import collections

    path = tmp_path / "od.p"
    path.write_bytes(pickle.dumps(collections.OrderedDict(a=1)))
    with pytest.raises(DatasetError, match="collections.OrderedDict"):
        load_pickle(path)


def test_missing_and_corrupt(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        load_pickle(tmp_path / "nope.p")
    bad = tmp_path / "bad.p"
    bad.write_bytes(b"\x80\x04garbage")
    with pytest.raises(DatasetError, match="not a readable pickle"):
        load_pickle(bad)
