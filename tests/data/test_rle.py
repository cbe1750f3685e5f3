"""COCO mask decoding: compressed RLE by hand, a real RefSegRS annotation, polygons, unions."""

from __future__ import annotations

import numpy as np
import pytest

from geocrobim.data.rle import (
    counts_from_string,
    counts_to_string,
    decode_segmentation,
    polygons_to_mask,
    rle_decode,
    rle_encode,
)
from geocrobim.errors import DatasetError

# RefSegRS val id 4497, "vehicle driving on the road" (CC-BY-4.0), as pycocotools encoded it in
# zyGao1126/DiCoR datainfo/refsegrs_val.jsonl (commit 98bbcab5).
REFSEGRS_4497 = (
    r"]ok44k?101O1O0010O001000O000100N1N[P92_oF601O0000K6Li_51X`J1O10000001O01O0000010O0000O2NR]d04fb[O5M30000000"
    r"J\AMh=KZB:c>3O1001O0K6Ig\54TcJ7O2O00O1O2LS]5Ki`J8[DO`;5]DMb;4]DNb;2^DMm:EnC?U1Le:NVD3W1Ld:3UDNZ1Jf:8PDHW>9i0"
    r"O0N2EYk06hjN3P43kK1U4OSIFL<Q7NlHO04T7LlH103T7IoH4M2U7ESI9HOU:0lEMW:2n2IfW43XhK4N200000M3N3ITX4"
)


def test_hand_made_case() -> None:
    # runs 2 zeros, 3 ones, 4 zeros, column by column: (0,0,1 | 1,1,0 | 0,0,0)
    assert counts_from_string("234") == [2, 3, 4]
    expected = np.array([[0, 1, 0], [0, 1, 0], [1, 0, 0]], np.uint8)
    assert np.array_equal(rle_decode({"size": [3, 3], "counts": "234"}), expected)
    assert np.array_equal(rle_decode({"size": [3, 3], "counts": [2, 3, 4]}), expected)
    assert rle_encode(expected) == {"size": [3, 3], "counts": "234"}
    # a mask starting with a foreground pixel starts with an empty run of zeros
    assert rle_encode(np.array([[1, 0], [0, 0]]))["counts"] == counts_to_string([0, 1, 3])


def test_large_counts_and_negative_deltas() -> None:
    counts = [1000, 3, 40000, 2, 37, 100000, 5]
    s = counts_to_string(counts)
    assert counts_from_string(s) == counts
    assert counts_from_string(s.encode()) == counts


def test_real_refsegrs_annotation() -> None:
    mask = rle_decode({"size": [512, 512], "counts": REFSEGRS_4497})
    assert mask.shape == (512, 512) and 0 < mask.sum() < 512 * 512 // 10
    assert rle_encode(mask)["counts"] == REFSEGRS_4497


def test_roundtrip_random_masks() -> None:
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (7, 5), (64, 33), (120, 200)]:
        mask = rng.random(shape) < rng.uniform(0.05, 0.95)
        assert np.array_equal(rle_decode(rle_encode(mask)), mask.astype(np.uint8))


def test_polygons_and_union() -> None:
    square = [[2, 2, 7, 2, 7, 7, 2, 7]]
    m = polygons_to_mask(square, 10, 10)
    assert m[4, 4] == 1 and m[0, 0] == 0 and m[9, 9] == 0
    # overlapping parts unite (> 0), they do not cancel (== 1 would drop the overlap)
    a = np.zeros((6, 6), bool)
    a[1:4, 1:4] = True
    b = np.zeros((6, 6), bool)
    b[2:5, 2:5] = True
    both = decode_segmentation([rle_encode(a), rle_encode(b)], 6, 6)
    assert np.array_equal(both, a | b)
    assert decode_segmentation(rle_encode(a), 6, 6).sum() == 9


def test_corrupt_annotations_are_reported() -> None:
    with pytest.raises(DatasetError, match="runs sum"):
        rle_decode({"size": [4, 4], "counts": [2, 3]})
    with pytest.raises(DatasetError, match="size/counts"):
        rle_decode({"counts": "234"})
    with pytest.raises(DatasetError, match="polygon"):
        polygons_to_mask([[1, 2, 3]], 5, 5)
    with pytest.raises(DatasetError, match="unrecognised"):
        decode_segmentation("nope", 5, 5)
