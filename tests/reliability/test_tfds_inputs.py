"""Bad TFDS folders behind vtab/<task> and tfds/<builder>: one line naming the file, exit 2, no result written.

Plus the good path: ``zsbench eval`` on replicas of three VTAB tasks through the engine, and ``--dataset vtab``
expanding to CLIP_benchmark's 19 names in its order.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.reliability.conftest import leftovers, run_cli
from zsbench.datasets.loaders.tfds import encode_example, iter_records, write_records
from zsbench.engine.plan import DATASET_COLLECTIONS
from zsbench.testing import tfds_replicas as T


def _results(tmp_path: Path) -> list[Path]:
    out = tmp_path / "out"
    return sorted(out.glob("*.json")) if out.exists() else []


def _shard(folder: Path, split: str, i: int = 0) -> Path:
    return sorted(folder.glob(f"*-{split}.tfrecord-*"))[i]


def test_vtab_tasks_run_through_the_engine(tmp_path, fake_eval):
    for task in ("eurosat", "kitti_closest_vehicle_distance", "dsprites_label_x_position"):
        T.write_vtab(tmp_path, task)
    res = fake_eval(
        "--dataset", "vtab/eurosat", "vtab/kitti_closest_vehicle_distance", "vtab/dsprites_label_x_position",
        "--allow_incomplete",
    )  # fmt: skip
    res.assert_ok()
    files = _results(tmp_path)
    assert len(files) == 3
    records = {json.loads(f.read_text())["dataset"]: json.loads(f.read_text()) for f in files}
    eurosat = records["vtab/eurosat"]["zsbench"]
    assert eurosat["n_images"] == 6 and eurosat["n_classes"] == 10  # train[18:] of 24 records
    assert eurosat["dataset_info"]["tfds_split"] == "train[18:]"
    assert records["vtab/kitti_closest_vehicle_distance"]["zsbench"]["n_classes"] == 4
    assert records["vtab/dsprites_label_x_position"]["zsbench"]["n_classes"] == 32
    assert 0.0 <= records["vtab/eurosat"]["metrics"]["acc1"] <= 1.0


def test_dataset_vtab_expands_as_clip_benchmark(tmp_path, fake_model):
    T.write_vtab(tmp_path, "eurosat")
    res = run_cli(
        "plan", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--dataset", "vtab",
        "--dataset_root", tmp_path, "--cache_dir", tmp_path / "cache", "--format", "json",
    )  # fmt: skip
    res.assert_ok()
    plan = json.loads(res.out)
    assert [j["dataset"] for j in plan["models"][0]["jobs"]] == DATASET_COLLECTIONS["vtab"]
    assert "sun397" in DATASET_COLLECTIONS["vtab"] and len(DATASET_COLLECTIONS["vtab"]) == 19
    assert _results(tmp_path) == []


def test_shard_cut_short(tmp_path, fake_eval):
    exp = T.write_vtab(tmp_path, "resisc45")
    shard = _shard(exp["path"], "train", 1)
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) - 10])  # the last record ends past the end of the file
    res = fake_eval("--dataset", "vtab/resisc45", "--allow_incomplete")
    res.assert_one_line_error(shard.name, "truncated")
    assert _results(tmp_path) == [] and leftovers(tmp_path) == []


def test_shard_with_fewer_records_than_dataset_info(tmp_path, fake_eval):
    """A shard that is valid TFRecord but one record short: a VTAB slice of it would shift silently."""
    exp = T.write_vtab(tmp_path, "eurosat")
    shard = _shard(exp["path"], "train", 0)
    payloads = [p for _, _, p in iter_records(shard)]
    write_records(shard, payloads[:-1])
    res = fake_eval("--dataset", "vtab/eurosat", "--allow_incomplete")
    res.assert_one_line_error(shard.name, "records but dataset_info.json says")
    assert _results(tmp_path) == []


def test_shard_missing(tmp_path, fake_eval):
    exp = T.write_vtab(tmp_path, "svhn")
    shard = _shard(exp["path"], "test", 1)
    shard.unlink()
    res = fake_eval("--dataset", "vtab/svhn", "--allow_incomplete")
    res.assert_one_line_error("1 of 2 test shards present", shard.name)
    assert _results(tmp_path) == []


def test_not_a_tfrecord_file(tmp_path, fake_eval):
    exp = T.write_vtab(tmp_path, "dtd")
    shard = _shard(exp["path"], "test", 0)
    shard.write_bytes(b"PK\x03\x04 this is a zip, not a TFRecord shard" * 3)
    res = fake_eval("--dataset", "vtab/dtd", "--allow_incomplete")
    res.assert_one_line_error(shard.name, "checksum")


def test_version_other_than_vtab_asks_for(tmp_path, fake_eval):
    """task_adaptation pins dmlab:2.0.0; a 2.0.1 folder is another preparation, named with what is there."""
    exp = T.write_vtab(tmp_path, "dmlab")
    exp["path"].rename(exp["path"].parent / "2.0.1")
    res = fake_eval("--dataset", "vtab/dmlab", "--allow_incomplete")
    res.assert_one_line_error("dmlab:2.0.0", "versions there: 2.0.1")


def test_label_outside_the_classes(tmp_path, fake_eval):
    exp = T.write_vtab(tmp_path, "pcam")  # 2 classes (CLIP_benchmark's pcam names)
    shard = _shard(exp["path"], "test", 0)
    bad = encode_example({"image": [T.encoded_image(0, 0)], "label": [7], "file_name": [b"x.png"]})
    payloads = [p for _, _, p in iter_records(shard)]
    write_records(shard, [bad, *payloads[1:]])
    res = fake_eval("--dataset", "vtab/pcam", "--allow_incomplete")
    res.assert_one_line_error(shard.name, "label 7", "2 classes")


def test_class_count_differs_from_clip_benchmark_names(tmp_path, fake_eval):
    """caltech101 with 101 classes (another TFDS version) cannot take CLIP_benchmark's 102 caltech101_vtab names."""
    exp = T.write_vtab(tmp_path, "caltech101")
    feats = json.loads((exp["path"] / "features.json").read_text())
    feats["featuresDict"]["features"]["label"]["classLabel"]["numClasses"] = "101"
    (exp["path"] / "features.json").write_text(json.dumps(feats))
    res = fake_eval("--dataset", "vtab/caltech101", "--allow_incomplete")
    res.assert_one_line_error("101 classes", "102")


def test_labels_file_disagrees_with_features_json(tmp_path, fake_eval):
    exp = T.write_vtab(tmp_path, "cars")
    labels = exp["path"] / "label.labels.txt"
    labels.write_text("\n".join(labels.read_text().splitlines()[:-1]) + "\n")
    res = fake_eval("--dataset", "vtab/cars", "--allow_incomplete")
    res.assert_one_line_error("label.labels.txt", "features.json")


def test_array_record_format_refused(tmp_path, fake_eval):
    exp = T.write_vtab(tmp_path, "cifar10")
    info_path = exp["path"] / "dataset_info.json"
    info = json.loads(info_path.read_text())
    info["fileFormat"] = "array_record"
    info_path.write_text(json.dumps(info))
    res = fake_eval("--dataset", "vtab/cifar10", "--allow_incomplete")
    res.assert_one_line_error("dataset_info.json", "array_record")


def _tfds_folder(root: Path, features: dict[str, T.F]) -> None:
    ex = [{"image": [T.encoded_image(i, 0)], "label": [0]} for i in range(2)]
    T.write_tfds(root, "odd_set", "1.0.0", features, {"test": ex})


def test_tfds_builder_without_image_and_class_label(tmp_path, fake_eval):
    """A multi-label (Sequence) target is not a class label: refused naming every feature kind found."""
    _tfds_folder(tmp_path, {"image": T.F("Image"), "label": T.F("Sequence", children={"x": T.F("Tensor")})})
    res = fake_eval("--dataset", "tfds/odd_set")
    res.assert_one_line_error("tfds/odd_set", "image: Image", "label: Sequence", "ClassLabel")
    assert _results(tmp_path) == []


def test_tfds_builder_video_instead_of_image(tmp_path, fake_eval):
    _tfds_folder(tmp_path, {"image": T.F("Video"), "label": T.F("ClassLabel", names=["a"])})
    res = fake_eval("--dataset", "tfds/odd_set")
    res.assert_one_line_error("image: Video")


def test_tfds_builder_unknown_split(tmp_path, fake_eval):
    _tfds_folder(tmp_path, {"image": T.F("Image"), "label": T.F("ClassLabel", names=["a"])})
    res = fake_eval("--dataset", "tfds/odd_set", "--split", "validation")
    res.assert_one_line_error("no split 'validation'", "test")


def test_tfds_bad_name(tmp_path, fake_eval):
    res = fake_eval("--dataset", "tfds/../etc")
    res.assert_one_line_error("tfds/<builder>")
