"""Bad DataComp inputs: each is one line naming the file / sample and what to do, before the model loads, and no
result file is written."""

from __future__ import annotations

import io
import tarfile

import pytest

from zsbench.testing import fake
from zsbench.testing.datacomp_replicas import (
    write_datacomp,
    write_hf_retrieval,
    write_wds_folder,
    write_winogavil,
)

from .conftest import leftovers, run_cli


def _eval(tmp_path, root, *datasets: str, task: str = "auto"):
    fake.register()
    return run_cli(
        "eval", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--num_workers", "0",
        "--dataset", *datasets, "--task", task, "--dataset_root", root, "--allow_incomplete",
        "--cache_dir", tmp_path / "cache", "--output", tmp_path / "out" / "{dataset}.json", "--quiet",
    )  # fmt: skip


def _nothing_written(tmp_path) -> None:
    out = tmp_path / "out"
    assert not out.exists() or not any(out.glob("*.json")), list(out.glob("*"))
    assert not leftovers(tmp_path)


def _fmow(tmp_path, rows, **kw):
    write_wds_folder(tmp_path / "wds_wilds-fmow_test", rows=rows, **kw)
    return tmp_path / "{datacomp}"


def test_group_metadata_missing_in_a_sample(tmp_path):
    root = _fmow(tmp_path, lambda i: [i % 6, 1, 0], skip_npy=(3,))
    _eval(tmp_path, root, "wilds/fmow").assert_one_line_error("0.tar", "s0000003", ".npy", "re-download")
    _nothing_written(tmp_path)


def test_group_metadata_row_of_another_length(tmp_path):
    root = _fmow(tmp_path, lambda i: [i % 6, 1])
    _eval(tmp_path, root, "wilds/fmow").assert_one_line_error("s0000000", "shape (2,)", "region, year, y")
    _nothing_written(tmp_path)


def test_group_metadata_pickled_object_is_refused(tmp_path):
    folder = _fmow(tmp_path, lambda i: [i % 6, 1, 0]).parent / "wds_wilds-fmow_test"
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.array([{"region": 1}, 2, 3], dtype=object), allow_pickle=True)
    with tarfile.open(folder / "test" / "0.tar", "a") as tar:  # replace sample 0's row by a pickle
        info = tarfile.TarInfo("s0000000.npy")
        info.size = len(buf.getvalue())
        tar.addfile(info, io.BytesIO(buf.getvalue()))
    _eval(tmp_path, tmp_path / "{datacomp}", "wilds/fmow").assert_one_line_error("s0000000", "unreadable")
    _nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("rows", "needles"),
    [
        (lambda i: [6 if i == 2 else 0, 1, 0], ("sample 2", "unknown region group 6", "0..5")),
        (lambda i: [0, -1 if i == 4 else 1, 0], ("sample 4", "year", "integers >= 0")),
        (lambda i: [0.5, 1, 0], ("sample 0", "region", "integers >= 0")),
    ],
    ids=["unknown-region", "negative-year", "fractional-region"],
)
def test_unknown_or_invalid_group(tmp_path, rows, needles):
    root = _fmow(tmp_path, rows)
    _eval(tmp_path, root, "wilds/fmow").assert_one_line_error("wilds/fmow", *needles)
    _nothing_written(tmp_path)


def test_group_task_on_a_dataset_without_groups(tmp_path):
    write_wds_folder(tmp_path / "wds_cifar10_test")
    _eval(tmp_path, tmp_path / "{datacomp}", "wds/cifar10", task="group_classification").assert_one_line_error(
        "group metadata", "--task zeroshot_classification"
    )
    _nothing_written(tmp_path)


def test_hf_split_missing(tmp_path):
    (tmp_path / "hf_cache").mkdir()
    _eval(tmp_path, tmp_path / "{datacomp}", "misc/winogavil").assert_one_line_error(
        "no prepared test split", "nlphuji/winogavil", "download_evalsets.py"
    )
    _nothing_written(tmp_path)


def test_hf_two_prepared_copies(tmp_path):
    info = write_hf_retrieval(tmp_path / "hf_cache", "flickr_1k_test_image_text_retrieval")
    other = info["arrow"].parent.parent / "fedcba9876543210"
    other.mkdir()
    for f in info["arrow"].parent.iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    _eval(tmp_path, tmp_path / "{datacomp}", "retrieval/flickr_1k_test_image_text_retrieval").assert_one_line_error(
        "2 prepared copies", "--dataset_root"
    )
    _nothing_written(tmp_path)


def test_hf_image_file_missing(tmp_path):
    write_winogavil(tmp_path / "hf_cache")
    (tmp_path / "hf_cache" / "downloads" / "extracted" / "77777777" / "winogavil_images" / "word3.jpg").unlink()
    _eval(tmp_path, tmp_path / "{datacomp}", "misc/winogavil").assert_one_line_error("1 image file", "word3.jpg")
    _nothing_written(tmp_path)


def test_hf_moved_cache_is_found(tmp_path):
    """Not a refusal: a cache moved elsewhere keeps working (its recorded absolute paths are looked up again)."""
    write_datacomp(tmp_path / "before", names={"retrieval/mscoco_2014_5k_test_image_text_retrieval"})
    (tmp_path / "before").rename(tmp_path / "after")
    _eval(tmp_path, tmp_path / "after" / "{datacomp}", "retrieval/mscoco_2014_5k_test_image_text_retrieval").assert_ok()


def test_hf_arrow_cut_short(tmp_path):
    info = write_hf_retrieval(tmp_path / "hf_cache", "flickr_1k_test_image_text_retrieval")
    data = info["arrow"].read_bytes()
    info["arrow"].write_bytes(data[: len(data) // 2])
    _eval(tmp_path, tmp_path / "{datacomp}", "retrieval/flickr_1k_test_image_text_retrieval").assert_one_line_error(
        "not a readable arrow file", "download it again"
    )
    _nothing_written(tmp_path)


def test_hf_missing_column(tmp_path):
    import pyarrow as pa

    info = write_hf_retrieval(tmp_path / "hf_cache", "flickr_1k_test_image_text_retrieval")
    table = pa.ipc.open_stream(pa.memory_map(str(info["arrow"]))).read_all().drop_columns(["caption"])
    with pa.OSFile(str(info["arrow"]), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    _eval(tmp_path, tmp_path / "{datacomp}", "retrieval/flickr_1k_test_image_text_retrieval").assert_one_line_error(
        "no column 'caption'"
    )
    _nothing_written(tmp_path)


def test_winogavil_instance_without_association(tmp_path):
    write_winogavil(tmp_path / "hf_cache", instances=(("owl", 5, 2), ("moon", 6, 0)))
    _eval(tmp_path, tmp_path / "{datacomp}", "misc/winogavil").assert_one_line_error("row 1", "moon", "associations")
    _nothing_written(tmp_path)


def test_winogavil_partial_copy_needs_allow_incomplete(tmp_path):
    write_winogavil(tmp_path / "hf_cache")
    fake.register()
    result = run_cli(
        "eval", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--dataset", "misc/winogavil",
        "--dataset_root", tmp_path / "{datacomp}", "--cache_dir", tmp_path / "cache",
        "--output", tmp_path / "out" / "{dataset}.json", "--quiet",
    )  # fmt: skip
    result.assert_one_line_error("found 4 instances", "expected 3563", "--allow_incomplete")
    _nothing_written(tmp_path)


def test_unknown_template_field_lists_datacomp(tmp_path):
    _eval(tmp_path, tmp_path / "{datacomp_dir}", "wilds/fmow").assert_one_line_error("{datacomp}", "{dataset}")
