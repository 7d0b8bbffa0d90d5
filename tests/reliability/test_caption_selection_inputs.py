"""Bad SugarCrepe and Winoground inputs: each is one line naming the file (and entry or line), exit 2, before any
model loads and with no result written; plus the collection keeping all seven splits' results."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

from zsbench.datasets.catalog.caption_selection import SUGAR_CREPE_TASKS
from zsbench.testing.caption_selection import write_sugar_crepe, write_winoground

from .conftest import leftovers


@pytest.fixture
def sugar_crepe(tmp_path) -> Path:
    root = tmp_path / "sc"
    write_sugar_crepe(root, 4, tasks=("swap_att",))
    return root


@pytest.fixture
def winoground(tmp_path) -> Path:
    root = tmp_path / "wg"
    write_winoground(root, 3, "folder")
    return root


def _run(fake_eval, dataset: str, root: Path, *extra: str):
    return fake_eval("--dataset", dataset, "--dataset_root", root, "--allow_incomplete", *extra)


def _no_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())
    assert leftovers(tmp_path) == []


def test_missing_sugar_crepe_json(tmp_path, fake_eval, sugar_crepe):
    (sugar_crepe / "swap_att.json").unlink()
    _run(fake_eval, "sugar_crepe/swap_att", sugar_crepe).assert_one_line_error("swap_att.json", "download=True")
    _no_results(tmp_path)


def test_missing_val2017_folder(tmp_path, fake_eval, sugar_crepe):
    for f in (sugar_crepe / "val2017").iterdir():
        f.unlink()
    (sugar_crepe / "val2017").rmdir()
    _run(fake_eval, "sugar_crepe/swap_att", sugar_crepe).assert_one_line_error("val2017", "val2017.zip")
    _no_results(tmp_path)


def test_missing_image_is_named_and_allow_incomplete_drops_its_instances(tmp_path, fake_eval, sugar_crepe):
    entries = json.loads((sugar_crepe / "swap_att.json").read_text())
    gone = entries["0"]["filename"]  # also used by a second entry (the copy reuses its first images)
    (sugar_crepe / "val2017" / gone).unlink()
    result = fake_eval("--dataset", "sugar_crepe/swap_att", "--dataset_root", sugar_crepe)
    result.assert_one_line_error(gone, "1 image(s)", "2 of 6 instances", "--allow_incomplete")
    _no_results(tmp_path)
    _run(fake_eval, "sugar_crepe/swap_att", sugar_crepe).assert_ok()
    [out] = (tmp_path / "out").iterdir()
    record = json.loads(out.read_text())
    info = record["zsbench"]["dataset_info"]
    assert (info["missing_images"], info["dropped_instances"], info["n_instances"]) == (1, 2, 4)
    assert record["zsbench"]["n_instances"] == 4


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ('{"0": {"filename": "a.jpg", "caption": "x"', ("swap_att.json", "not a SugarCrepe JSON file")),  # cut short
        ('[{"filename": "a.jpg"}]', ("swap_att.json", "expected a JSON object", "got a list")),
        ('{"7": {"filename": "a.jpg", "caption": "x"}}', ("swap_att.json entry '7'", "'negative_caption'")),
        ('{"7": {"filename": "../a.jpg", "caption": "x", "negative_caption": "y"}}', ("entry '7'", "'../a.jpg'")),
        ('{"7": {"filename": "a.jpg", "caption": "", "negative_caption": "y"}}', ("entry '7'", '"caption"')),
        ("{}", ("no instances",)),
    ],
    ids=["truncated", "list", "no_negative", "outside_root", "empty_caption", "empty"],
)
def test_bad_sugar_crepe_json(tmp_path, fake_eval, sugar_crepe, content, needles):
    (sugar_crepe / "swap_att.json").write_text(content)
    _run(fake_eval, "sugar_crepe/swap_att", sugar_crepe).assert_one_line_error(*needles)
    _no_results(tmp_path)


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        ("{not json\n", ("examples.jsonl:2", "not a JSON object")),
        ('{"image_0": "ex_9_img_0", "image_1": "ex_9_img_1", "caption_0": "a"}\n', ("examples.jsonl:2", "'caption_1'")),
        ('["ex_9_img_0"]\n', ("examples.jsonl:2", "expected a JSON object")),
    ],
    ids=["not_json", "no_caption_1", "not_object"],
)
def test_bad_winoground_examples(tmp_path, fake_eval, winoground, line, needles):
    examples = winoground / "data" / "examples.jsonl"
    lines = examples.read_text().splitlines(keepends=True)
    examples.write_text(lines[0] + line + "".join(lines[2:]))
    _run(fake_eval, "winoground", winoground).assert_one_line_error(*needles)
    _no_results(tmp_path)


def test_winoground_without_images(tmp_path, fake_eval, winoground):
    for f in (winoground / "data" / "images").iterdir():
        f.unlink()
    (winoground / "data" / "images").rmdir()
    _run(fake_eval, "winoground", winoground).assert_one_line_error("images", "images.zip")
    _no_results(tmp_path)


def test_winoground_image_missing_from_zip(tmp_path, fake_eval):
    root = tmp_path / "wz"
    write_winoground(root, 3, "zip")
    archive = root / "data" / "images.zip"
    with zipfile.ZipFile(archive) as zf:
        kept = [(n, zf.read(n)) for n in zf.namelist() if n != "images/ex_1_img_1.png"]
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in kept:
            zf.writestr(name, data)
    result = fake_eval("--dataset", "winoground", "--dataset_root", root)  # checked before the copy's size
    result.assert_one_line_error("ex_1_img_1.png", "1 image(s)", "1 of 3 instances")
    _no_results(tmp_path)
    _run(fake_eval, "winoground", root).assert_ok()  # --allow_incomplete: the other two examples, recorded
    [out] = (tmp_path / "out").iterdir()
    info = json.loads(out.read_text())["zsbench"]["dataset_info"]
    assert (info["missing_images"], info["dropped_instances"], info["n_instances"]) == (1, 1, 2)


def test_winoground_zip_that_is_not_a_zip(tmp_path, fake_eval):
    root = tmp_path / "wz"
    write_winoground(root, 3, "zip")
    (root / "data" / "images.zip").write_bytes(b"PK\x03\x04 cut short")
    _run(fake_eval, "winoground", root).assert_one_line_error("images.zip", "not a readable zip")
    _no_results(tmp_path)


def test_winoground_undecodable_image_and_skip_corrupt(tmp_path, fake_eval, winoground):
    (winoground / "data" / "images" / "ex_2_img_0.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    _run(fake_eval, "winoground", winoground).assert_one_line_error("ex_2_img_0.png", "--skip_corrupt")
    _no_results(tmp_path)
    _run(fake_eval, "winoground", winoground, "--skip_corrupt").assert_ok()
    [out] = (tmp_path / "out").iterdir()
    run = json.loads(out.read_text())["zsbench"]
    assert (run["n_instances"], run["instances_skipped"], run["skipped_corrupt"]) == (2, 1, 1)


def test_winoground_nothing_there(tmp_path, fake_eval):
    (tmp_path / "empty").mkdir()
    _run(fake_eval, "winoground", tmp_path / "empty").assert_one_line_error("examples.jsonl", "Parquet", "images.zip")
    _no_results(tmp_path)


def test_winoground_parquet_without_pyarrow(tmp_path, fake_eval, monkeypatch):
    (tmp_path / "wp" / "data").mkdir(parents=True)
    (tmp_path / "wp" / "data" / "test-00000-of-00001.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    _run(fake_eval, "winoground", tmp_path / "wp").assert_one_line_error("needs pyarrow", "pip install pyarrow")
    _no_results(tmp_path)


def test_winoground_parquet_without_a_column(tmp_path, fake_eval):
    pa = pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (optional)")
    import pyarrow.parquet as pq

    (tmp_path / "wp" / "data").mkdir(parents=True)
    pq.write_table(pa.table({"id": [0], "caption_0": ["a"]}), tmp_path / "wp" / "data" / "test.parquet")
    _run(fake_eval, "winoground", tmp_path / "wp").assert_one_line_error("test.parquet", "'image_0'", "'caption_1'")
    _no_results(tmp_path)


def test_caption_selection_task_on_a_classification_dataset(tmp_path, fake_eval):
    result = fake_eval("--dataset", "fake_cls", "--task", "image_caption_selection")
    result.assert_one_line_error("fake_cls", "zeroshot_classification", "--task")
    _no_results(tmp_path)


def test_collection_keeps_every_split(tmp_path, fake_eval):
    """``--dataset sugar_crepe`` runs all seven splits; each has its own result (file or JSON Lines record)."""
    root = tmp_path / "sc"
    write_sugar_crepe(root, 3, tasks=SUGAR_CREPE_TASKS)
    fake_eval("--dataset", "sugar_crepe", "--dataset_root", root).assert_ok()
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == sorted(f"sugar_crepe_{t}_m_en_image_caption_selection.json" for t in SUGAR_CREPE_TASKS)
    datasets = {json.loads((tmp_path / "out" / f).read_text())["dataset"] for f in files}
    assert datasets == {f"sugar_crepe/{t}" for t in SUGAR_CREPE_TASKS}
    # one fixed --output: every split's record is kept (JSON Lines), none overwritten
    one = tmp_path / "one.json"
    fake_eval("--dataset", "sugar_crepe", "--dataset_root", root, "--output", one).assert_ok()
    records = [json.loads(line) for line in one.read_text().splitlines()]
    assert sorted(r["dataset"] for r in records) == sorted(f"sugar_crepe/{t}" for t in SUGAR_CREPE_TASKS)
