"""Image-set fingerprints: "stat" (names, sizes, mtimes, resolved root) and "content" (the bytes)."""

from __future__ import annotations

import io
import os
import shutil
import tarfile

import numpy as np
import pytest

from zsbench.datasets.base import ArrayImageSet, FileImageSet, SubsetImageSet
from zsbench.datasets.loaders._common import ArchiveImageSet, CropImageSet
from zsbench.errors import ZsbenchError
from zsbench.testing import replicas as R

NAMES = ["a/0.png", "a/1.png", "b/2.png"]
MTIME = 1_700_000_000


def _files(root, shade: int):
    """PNG files of equal size for any shade (solid 8x6 images), all with the same mtime."""
    for i, rel in enumerate(NAMES):
        R.save_image(root / rel, i, shade)
        os.utime(root / rel, (MTIME, MTIME))
    return root


def _tar(path, shade: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for i, rel in enumerate(NAMES):
            blob = R.image_bytes(i, shade)
            info = tarfile.TarInfo(rel)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    os.utime(path, (MTIME, MTIME))
    with tarfile.open(path) as tar:
        return [("x.tar", m.offset_data, m.size, m.name) for m in tar]


def _swap_in(src, dest):
    """Replace ``dest`` by ``src`` (the same relative names, sizes and mtimes, other bytes)."""
    shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
    os.rename(src, dest)


def test_file_set_stat_misses_a_same_size_same_mtime_replacement_content_does_not(tmp_path):
    one, two = _files(tmp_path / "one", 10), _files(tmp_path / "two", 200)
    assert all((one / r).stat().st_size == (two / r).stat().st_size for r in NAMES)  # the test's premise
    before = FileImageSet(one, NAMES)
    stat_before, content_before = before.fingerprint("stat"), before.fingerprint("content")
    assert before.fingerprint() == stat_before  # "stat" is the default
    _swap_in(two, one)  # other pixels, same names/sizes/mtimes/root
    after = FileImageSet(one, NAMES)
    assert after.fingerprint("stat") == stat_before
    assert after.fingerprint("content") != content_before


def test_file_set_stat_includes_the_resolved_root(tmp_path):
    one, two = _files(tmp_path / "one", 10), _files(tmp_path / "two", 10)  # identical copies
    assert FileImageSet(one, NAMES).fingerprint("stat") != FileImageSet(two, NAMES).fingerprint("stat")
    assert FileImageSet(one, NAMES).fingerprint("content") == FileImageSet(two, NAMES).fingerprint("content")
    # the same folder reached through a relative path or a symlink is the same root
    (tmp_path / "link").symlink_to(one)
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        relative = FileImageSet("one", NAMES).fingerprint("stat")
    finally:
        os.chdir(cwd)
    assert (
        relative == FileImageSet(tmp_path / "link", NAMES).fingerprint("stat") == FileImageSet(one, NAMES).fingerprint()
    )


def test_archive_set_modes(tmp_path):
    entries = _tar(tmp_path / "one/x.tar", 10)
    other = _tar(tmp_path / "two/x.tar", 200)
    assert other == entries  # same members at the same offsets and lengths
    before = ArchiveImageSet(tmp_path / "one", entries)
    stat_before, content_before = before.fingerprint("stat"), before.fingerprint("content")
    assert stat_before != ArchiveImageSet(tmp_path / "two", entries).fingerprint("stat")  # other root
    _swap_in(tmp_path / "two/x.tar", tmp_path / "one/x.tar")
    after = ArchiveImageSet(tmp_path / "one", entries)
    assert after.fingerprint("stat") == stat_before
    assert after.fingerprint("content") != content_before
    assert after.load_image(1).getpixel((0, 0))[1] == 200


def test_crop_subset_and_array_sets_follow_the_mode(tmp_path):
    one, two = _files(tmp_path / "one", 10), _files(tmp_path / "two", 200)
    boxes = [(NAMES[0], (0, 0, 4, 4)), (NAMES[2], (1, 1, 5, 5))]
    crops = CropImageSet(one, boxes)
    sub = SubsetImageSet(FileImageSet(one, NAMES), [2, 0])
    before = {m: (crops.fingerprint(m), sub.fingerprint(m)) for m in ("stat", "content")}
    _swap_in(two, one)
    crops2, sub2 = CropImageSet(one, boxes), SubsetImageSet(FileImageSet(one, NAMES), [2, 0])
    assert (crops2.fingerprint("stat"), sub2.fingerprint("stat")) == before["stat"]
    assert crops2.fingerprint("content") != before["content"][0] and sub2.fingerprint("content") != before["content"][1]
    arrays = ArrayImageSet(np.zeros((2, 4, 4, 3), np.uint8), "x/test", "digest")
    assert arrays.fingerprint("stat") == arrays.fingerprint("content") == arrays.fingerprint()


@pytest.mark.parametrize(
    "make",
    [
        lambda p: FileImageSet(p, []),
        lambda p: ArchiveImageSet(p, []),
        lambda p: CropImageSet(p, []),
        lambda p: SubsetImageSet(FileImageSet(p, []), []),
        lambda p: ArrayImageSet(np.zeros((0, 2, 2, 3), np.uint8), "x", "d"),
    ],
)
def test_unknown_mode_is_an_error(tmp_path, make):
    with pytest.raises(ZsbenchError, match="unknown fingerprint mode 'mtime'; valid choices: stat, content"):
        make(tmp_path).fingerprint("mtime")
