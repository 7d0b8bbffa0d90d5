"""``zsbench snapshot new``: regression case files for a checkpoint without published numbers.

Before: there was no command; a new checkpoint's cases were written by hand, key by key, with the markers, file
names and portable ``pretrained`` guessed from the existing files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.conftest import leftovers, run_cli
from tests.snapshot_project import run_project, start_project

pytest_plugins = ["pytester"]

TINY = ("--model", "zsbench-tiny-shapes", "--pretrained", "builtin:zsbench-tiny-shapes")


def test_new_case_fails_until_snapshot_update_fills_it(pytester):
    start_project(pytester)
    expected = pytester.path / "expected"
    run_cli("snapshot", "new", *TINY, "--dataset", "shapes", "--expected_dir", expected).assert_ok()
    path = expected / "zsbench-tiny-shapes" / "shapes__en.json"
    snap = json.loads(path.read_text())
    assert snap["expected"] is None and snap["published"] is None and snap["tolerance"] == 0.002
    assert snap["markers"] == ["tiny", "zsbench_tiny", "classification", "shapes"]
    assert snap["task"] == "zeroshot_classification" and snap["pretrained"] == "builtin:zsbench-tiny-shapes"
    assert snap["command"].startswith("zsbench eval --model_type open_clip --language en --task zeroshot_classif")

    result = run_project(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no expected numbers yet*--snapshot-update*"])
    assert json.loads(path.read_text())["expected"] is None  # a plain run writes nothing

    run_project(pytester, "--snapshot-update").assert_outcomes(passed=1)
    filled = json.loads(path.read_text())
    assert set(filled["expected"]) == {"acc1", "acc5", "mean_per_class_recall"} and filled["published"] is None
    run_project(pytester).assert_outcomes(passed=1)


def test_refuses_to_overwrite_an_existing_case_unless_forced(tmp_path):
    args = ("snapshot", "new", *TINY, "--dataset", "shapes", "shapes_captions", "--expected_dir", tmp_path)
    run_cli(*args).assert_ok()
    path = tmp_path / "zsbench-tiny-shapes" / "shapes__en.json"
    path.write_text(path.read_text().replace('"expected": null', '"expected": {"acc1": 0.5}'))
    before = path.read_text()
    run_cli(*args).assert_one_line_error(str(path), "already exists", "--force")
    assert path.read_text() == before  # its numbers are kept
    run_cli(*args, "--force").assert_ok()
    assert json.loads(path.read_text())["expected"] is None
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (("--dataset", "shapes", "no_such_dataset"), ("unknown dataset", "no_such_dataset")),
        (("--dataset", "shapes", "--language", "xx"), ("unknown language", "xx")),
        (("--dataset", "shapes", "--task", "zeroshot_retrieval"), ("shapes", "--task")),
        (("--dataset", "shapes", "--model_type", "nope"), ("unknown model type", "nope")),
    ],
)
def test_unknown_names_are_one_line_and_write_nothing(tmp_path, flags, needles):
    run_cli("snapshot", "new", *TINY, *flags, "--expected_dir", tmp_path).assert_one_line_error(*needles)
    assert list(tmp_path.iterdir()) == []


def test_a_case_id_another_file_has_is_refused(tmp_path):
    run_cli("snapshot", "new", *TINY, "--dataset", "shapes", "--expected_dir", tmp_path).assert_ok()
    # the same model under another folder would take the same case id: the plugin would run neither case
    name = "zsbench-tiny-shapes"
    args = ("snapshot", "new", *TINY, "--dataset", "shapes", "--expected_dir", tmp_path, "--name", name)
    (tmp_path / "zsbench-tiny-shapes").rename(tmp_path / "moved")
    run_cli(*args).assert_one_line_error("zsbench-tiny-shapes-shapes-en", "moved", "--name")
    assert not (tmp_path / "zsbench-tiny-shapes").exists()
    run_cli(*args[:-1], "other").assert_ok()
    assert json.loads((tmp_path / "other" / "shapes__en.json").read_text())["id"] == "other-shapes-en"


def test_weights_and_data_are_stored_relative_to_their_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    weights = tmp_path / "weights" / "new" / "model.pt"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"x")
    outside = tmp_path / "elsewhere.pt"
    outside.write_bytes(b"x")
    run_cli(
        "snapshot", "new", "--model", "ViT-B-32", "--pretrained", str(weights), "elsewhere.pt", "openai",
        "--dataset", "shapes", "--dataset_root", str(tmp_path / "data" / "{dataset}"), "--expected_dir", "exp",
        "--pretrained_dir", "weights", "--data_root", "data",
    ).assert_one_line_error("two cases would be written to", "--name")  # fmt: skip
    assert not Path("exp").exists()
    for pretrained, name in ((str(weights), "a"), ("elsewhere.pt", "b"), ("openai", "c")):
        run_cli(
            "snapshot", "new", "--model", "ViT-B-32", "--pretrained", pretrained, "--dataset", "shapes", "--name", name,
            "--dataset_root", str(tmp_path / "data" / "{dataset}"), "--expected_dir", "exp",
            "--pretrained_dir", "weights", "--data_root", "data",
        ).assert_ok()  # fmt: skip
    snaps = {n: json.loads((tmp_path / "exp" / n / "shapes__en.json").read_text()) for n in "abc"}
    assert snaps["a"]["pretrained"] == "new/model.pt"  # as --zs-pretrained-dir reads it, on any machine
    assert snaps["b"]["pretrained"] == str(outside.resolve())  # outside the folder: where it is
    assert snaps["c"]["pretrained"] == "openai"  # a tag as given
    assert snaps["a"]["dataset_root"] == "shapes" and snaps["a"]["markers"][:2] == ["gpu", "ViT_B_32"]
