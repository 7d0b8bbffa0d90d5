"""CLIP_benchmark names through the CLI: the `retrieval` collection runs, `zsbench datasets` lists the new names,
and a broken copy of a new dataset is one line naming the file."""

from __future__ import annotations

import json

from tests.reliability.conftest import leftovers, run_cli
from zsbench.testing import replicas as R

NEW_NAMES = ("flickr8k", "imagenet-o", "flowers", "dummy")


def test_eval_retrieval_collection_gives_three_results(tmp_path, fake_eval):
    """Before flickr8k existed this stopped with "unknown dataset 'flickr8k'"."""
    R.write_coco_karpathy(tmp_path / "mscoco_captions", 3)
    R.write_flickr8k(tmp_path / "flickr8k", 3)
    R.write_flickr30k(tmp_path / "flickr30k", 3)
    res = fake_eval(
        "--dataset", "retrieval", "--dataset_root", tmp_path / "{dataset}", "--allow_incomplete", "--recall_k", "1", "2"
    )  # fmt: skip
    res.assert_ok()
    got = {}
    for p in sorted((tmp_path / "out").glob("*.json")):
        rec = json.loads(p.read_text())
        got[rec["dataset"]] = rec
    assert sorted(got) == ["flickr30k", "flickr8k", "mscoco_captions"]
    for rec in got.values():
        assert rec["task"] == "zeroshot_retrieval"
        assert "image_retrieval_recall@2" in rec["metrics"]
    assert not leftovers(tmp_path / "out")


def test_zsbench_datasets_lists_the_new_names(tmp_path):
    res = run_cli("datasets", "--dataset_root", tmp_path / "{dataset}")
    res.assert_ok()
    listed = {line.split()[0] for line in res.out.splitlines() if line.strip()}
    assert set(NEW_NAMES) <= listed, res.out


def test_flickr8k_without_its_caption_file_is_one_line(tmp_path, fake_eval):
    R.write_flickr8k(tmp_path / "f8", 2)
    (tmp_path / "f8" / "flickr8k_test_karpathy.txt").unlink()
    res = fake_eval("--dataset", "flickr8k", "--dataset_root", tmp_path / "f8", "--allow_incomplete")
    res.assert_one_line_error("flickr8k", "flickr8k_test_karpathy.txt")
    assert not list(tmp_path.glob("out/*.json"))


def test_flowers_setid_beyond_labels_is_one_line(tmp_path, fake_eval):
    import scipy.io as sio

    R.write_flowers102(tmp_path / "fl")
    sio.savemat(tmp_path / "fl/flowers-102/setid.mat", {"trnid": [[1]], "valid": [[2]], "tstid": [[3, 99]]})
    res = fake_eval("--dataset", "flowers", "--dataset_root", tmp_path / "fl", "--allow_incomplete")
    res.assert_one_line_error("flowers", "setid.mat", "99")
    assert not list(tmp_path.glob("out/*.json"))


def test_eval_vtab_collection_gives_nineteen_results(tmp_path, fake_eval):
    """`--dataset vtab` expands as CLIP_benchmark's collection and every member runs on a replica in its format
    (18 TFDS folders read without TensorFlow, plus torchvision's SUN397): one result each."""
    from zsbench.engine.plan import DATASET_COLLECTIONS
    from zsbench.testing.tfds_replicas import write_vtab

    for name in DATASET_COLLECTIONS["vtab"]:
        if name.startswith("vtab/"):
            write_vtab(tmp_path / name, name.removeprefix("vtab/"))
    R.write_sun397(tmp_path / "sun397")
    res = fake_eval("--dataset", "vtab", "--dataset_root", tmp_path / "{dataset}", "--allow_incomplete")
    res.assert_ok()
    got = {json.loads(p.read_text())["dataset"] for p in (tmp_path / "out").glob("*.json")}
    assert sorted(got) == sorted(DATASET_COLLECTIONS["vtab"]) and len(got) == 19
    assert not leftovers(tmp_path / "out")
