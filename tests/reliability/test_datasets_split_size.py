"""A split smaller than the published one is refused, unless --allow_incomplete, which the result then records."""

from __future__ import annotations

import json

from tests.reliability.conftest import run_cli
from zsbench.testing.replicas import write_cifar10


def _eval(tmp_path, *extra):
    return run_cli(
        "eval", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--num_workers", "0",
        "--dataset", "cifar10", "--dataset_root", tmp_path / "data", "--cache_dir", tmp_path / "cache",
        "--output", tmp_path / "out" / "{dataset}.json", "--quiet", *extra,
    )  # fmt: skip


def test_short_split_is_one_line_and_writes_nothing(tmp_path, fake_model):
    write_cifar10(tmp_path / "data", 12)
    result = _eval(tmp_path)
    result.assert_one_line_error("cifar10", "incomplete", "found 12 images, expected 10000", "--allow_incomplete")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_allow_incomplete_evaluates_and_records_it(tmp_path, fake_model):
    write_cifar10(tmp_path / "data", 12)
    _eval(tmp_path, "--allow_incomplete").assert_ok()
    record = json.loads((tmp_path / "out" / "cifar10.json").read_text())
    assert record["zsbench"]["allow_incomplete"] is True
    assert record["zsbench"]["n_images"] == 12


def test_unknown_open_clip_architecture_is_one_line(tmp_path):
    result = run_cli("eval", "--model_type", "open_clip", "--model", "ViT-B-32-nope", "--pretrained", "",
                     "--dataset", "shapes", "--output", tmp_path / "r.json", "--quiet")  # fmt: skip
    result.assert_one_line_error("ViT-B-32-nope")
    assert not (tmp_path / "r.json").exists()
