"""Webdataset shards: cut-short shards, sample counts, unsafe member names, atomic exports."""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

import pytest

from tests.reliability.conftest import leftovers
from zsbench.datasets import load_dataset
from zsbench.datasets.loaders.webdataset import export_wds
from zsbench.errors import DatasetNotFoundError
from zsbench.testing import replicas as R


def _export(tmp_path, n: int = 5, **kw):
    R.write_cifar10(tmp_path / "src", n)
    data = load_dataset("cifar10", tmp_path / "src", allow_incomplete=True)
    out = export_wds(data, tmp_path / "wds", image_format="png", **kw)
    return data, out


def _member_ends(shard) -> list[int]:
    """Byte offset just past each member's (padded) data, in archive order."""
    with tarfile.open(shard) as tar:
        return [m.offset_data + -(-m.size // 512) * 512 for m in tar]


def test_export_writes_sample_counts(tmp_path):
    import json

    _export(tmp_path, 7, max_count=3)
    assert json.loads((tmp_path / "wds/test/sizes.json").read_text()) == {"0.tar": 3, "1.tar": 3, "2.tar": 1}


@pytest.mark.parametrize("keep_sizes", [True, False])
def test_shard_cut_at_the_last_member_boundary_is_an_error(tmp_path, fake_eval, keep_sizes):
    """Cut exactly after the last member: tarfile reads every sample and stops silently; the missing end marker tells."""
    _export(tmp_path)
    shard = tmp_path / "wds/test/0.tar"
    shard.write_bytes(shard.read_bytes()[: _member_ends(shard)[-1]])
    if not keep_sizes:
        (tmp_path / "wds/test/sizes.json").unlink()
    res = fake_eval("--dataset", "wds/cifar10", "--dataset_root", tmp_path / "wds")
    res.assert_one_line_error(str(shard), "cut short", "end-of-archive", "--allow_incomplete")

    data = load_dataset("wds/cifar10", tmp_path / "wds", allow_incomplete=True)
    assert len(data.images) == 5  # every member is whole: all samples kept, and the shard is recorded
    assert data.info["incomplete_shards"][0]["shard"] == "test/0.tar"


@pytest.mark.parametrize("keep_sizes", [True, False])
def test_shard_cut_between_samples_is_an_error(tmp_path, fake_eval, keep_sizes):
    """Cut at the member boundary after sample 2 (of 5): without the check 3 samples would be evaluated silently."""
    _export(tmp_path)
    shard = tmp_path / "wds/test/0.tar"
    shard.write_bytes(shard.read_bytes()[: _member_ends(shard)[5]])  # members: png, cls per sample
    if not keep_sizes:
        (tmp_path / "wds/test/sizes.json").unlink()
    res = fake_eval("--dataset", "wds/cifar10", "--dataset_root", tmp_path / "wds")
    res.assert_one_line_error(str(shard), "cut short")
    data = load_dataset("wds/cifar10", tmp_path / "wds", allow_incomplete=True)
    assert len(data.images) == 3 and data.info["incomplete_shards"]


def test_shard_cut_inside_a_member_drops_the_partial_sample_only_when_allowed(tmp_path, fake_eval):
    full, _ = _export(tmp_path)
    shard = tmp_path / "wds/test/0.tar"
    ends = _member_ends(shard)
    shard.write_bytes(shard.read_bytes()[: ends[5] + 600])  # inside sample 3's png
    res = fake_eval("--dataset", "wds/cifar10", "--dataset_root", tmp_path / "wds")
    res.assert_one_line_error(str(shard), "cut short inside member")
    data = load_dataset("wds/cifar10", tmp_path / "wds", allow_incomplete=True)
    assert data.targets == full.targets[:3]


def test_sample_count_differing_from_sizes_json_is_an_error(tmp_path, fake_eval):
    _export(tmp_path)
    (tmp_path / "wds/test/sizes.json").write_text('{"0.tar": 6}\n')
    res = fake_eval("--dataset", "wds/cifar10", "--dataset_root", tmp_path / "wds")
    res.assert_one_line_error("0.tar", "has 5 samples", "sizes.json says 6")


def test_sizes_json_unreadable_is_one_line(tmp_path, fake_eval):
    _export(tmp_path)
    (tmp_path / "wds/test/sizes.json").write_text("[1, 2")
    res = fake_eval("--dataset", "wds/cifar10", "--dataset_root", tmp_path / "wds")
    res.assert_one_line_error("sizes.json", "not a JSON object")


@pytest.mark.parametrize("name", ["../evil.png", "/abs/zsbench-evil.png", "a/../../evil.png"])
def test_member_with_unsafe_path_is_refused_and_never_written(tmp_path, fake_eval, name):
    root = tmp_path / "data" / "wds"
    (root / "test").mkdir(parents=True)
    (root / "classnames.txt").write_text("a\nb\n")
    (root / "zeroshot_classification_templates.txt").write_text("a photo of {c}.\n")
    with tarfile.open(root / "test/0.tar", "w") as tar:
        for member, blob in ((name, R.image_bytes(0)), (name.replace(".png", ".cls"), b"1")):
            info = tarfile.TarInfo(member)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    (root / "test/nshards.txt").write_text("1\n")
    before = sorted(p for p in tmp_path.rglob("*"))
    res = fake_eval("--dataset", "wds/x", "--dataset_root", root)
    res.assert_one_line_error(str(root / "test/0.tar"), repr(name), "absolute path or '..'")
    assert not list(tmp_path.rglob("*evil*")) and not (tmp_path.parent / "evil.png").exists()
    assert not Path("/abs").exists()  # the absolute member was never extracted
    new = [p for p in tmp_path.rglob("*") if p not in before and "cache" not in p.parts and "out" not in p.parts]
    assert new == []


def test_failed_export_leaves_the_previous_export_intact(tmp_path, monkeypatch):
    """An export that dies mid-way (here: load_image raises on image 3) changes nothing and leaves no temp folder."""
    old, out = _export(tmp_path, 4, max_count=2)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    R.write_cifar10(tmp_path / "src2", 6)
    new = load_dataset("cifar10", tmp_path / "src2", allow_incomplete=True)
    real = new.images.load_image

    def dying(i):
        if i == 3:
            raise RuntimeError("killed")
        return real(i)

    monkeypatch.setattr(new.images, "load_image", dying)
    with pytest.raises(RuntimeError, match="killed"):
        export_wds(new, out, image_format="png", max_count=2)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in out.iterdir()) == ["classnames.txt", "test", "zeroshot_classification_templates.txt"]
    assert load_dataset("wds/cifar10", out).targets == old.targets


def test_killed_export_temp_folder_is_removed_by_the_next_export(tmp_path):
    _, out = _export(tmp_path, 3)
    stale = out / ".test-999999999-abcd1234.tmp"  # what a kill -9 mid-export leaves (a pid that cannot exist)
    (stale).mkdir()
    (stale / "0.tar").write_bytes(b"half")
    data = load_dataset("cifar10", tmp_path / "src", allow_incomplete=True)
    export_wds(data, out, image_format="png")
    assert not stale.exists() and leftovers(out) == []
    assert len(load_dataset("wds/cifar10", out).images) == 3


def test_export_files_have_normal_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        _, out = _export(tmp_path, 3)
    finally:
        os.umask(old)
    for p in out.rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o755 if p.is_dir() else 0o644), (p, oct(mode))


def test_reexport_as_classification_drops_a_stale_dataset_type(tmp_path):
    R.write_flickr30k(tmp_path / "ret", 2)
    export_wds(load_dataset("flickr30k", tmp_path / "ret", allow_incomplete=True), tmp_path / "wds", image_format="png")
    assert (tmp_path / "wds/dataset_type.txt").read_text().strip() == "retrieval"
    data, _ = _export(tmp_path, 3)
    assert not (tmp_path / "wds/dataset_type.txt").exists()
    assert load_dataset("wds/cifar10", tmp_path / "wds").targets == data.targets


@pytest.mark.parametrize("kind", ["garbage", "gzip"])
def test_unreadable_shard_is_one_line(tmp_path, kind):
    """Garbage, or a gzip-compressed tar named .tar (its member offsets would not be file offsets)."""
    import gzip

    _export(tmp_path)
    shard = tmp_path / "wds/test/0.tar"
    shard.write_bytes(b"this is not a tar file" * 10 if kind == "garbage" else gzip.compress(shard.read_bytes()))
    with pytest.raises(DatasetNotFoundError, match="0.tar is not a readable tar"):
        load_dataset("wds/cifar10", tmp_path / "wds")
