"""Decompression bombs are corrupt images (both decode paths); generated data gets normal permissions."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import struct
import tarfile
import warnings
import zlib

import pytest

from zsbench.datasets.base import CorruptImageError, FileImageSet
from zsbench.datasets.loaders._common import decode_bytes
from zsbench.testing import replicas as R

FER = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A 60-byte PNG whose header claims ``width x height`` pixels (10^10 by default)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b"")


def test_bomb_file_is_a_corrupt_image_naming_it(tmp_path):
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    with pytest.raises(CorruptImageError, match=r"bomb\.png claims too many pixels"):
        FileImageSet(tmp_path, ["bomb.png"]).load_image(0)


def test_bomb_bytes_are_a_corrupt_image_naming_the_member():
    with pytest.raises(CorruptImageError, match=r"0\.tar:s1\.png claims too many pixels"):
        decode_bytes(bomb_png(), "0.tar:s1.png")


def _fer_with_bomb(root):
    R.write_image_folder(root, "test", {c: 1 for c in FER}, ext=".png")
    (root / "test/fear/bomb.png").write_bytes(bomb_png())


def test_bomb_in_a_folder_dataset_is_one_line_or_skipped(tmp_path, fake_eval):
    root = tmp_path / "fer2013"
    _fer_with_bomb(root)
    res = fake_eval("--dataset", "fer2013", "--dataset_root", root, "--allow_incomplete")
    res.assert_one_line_error("bomb.png", "too many pixels", "--skip_corrupt")

    res = fake_eval("--dataset", "fer2013", "--dataset_root", root, "--allow_incomplete", "--skip_corrupt")
    res.assert_ok()
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "out").rglob("*.json")]
    assert record["zsbench"]["skipped_corrupt"] == 1 and record["zsbench"]["n_evaluated"] == 7


def test_bomb_in_a_webdataset_shard_is_one_line_or_skipped(tmp_path, fake_eval):
    root = tmp_path / "wds"
    (root / "test").mkdir(parents=True)
    (root / "classnames.txt").write_text("a\nb\n")
    (root / "zeroshot_classification_templates.txt").write_text("a photo of {c}.\n")
    with tarfile.open(root / "test/0.tar", "w") as tar:
        members = [("s0.png", R.image_bytes(0)), ("s0.cls", b"0"), ("s1.png", bomb_png()), ("s1.cls", b"1")]
        for name, blob in members:
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    (root / "test/nshards.txt").write_text("1\n")
    res = fake_eval("--dataset", "wds/x", "--dataset_root", root)
    res.assert_one_line_error("0.tar:s1.png", "too many pixels")
    res = fake_eval("--dataset", "wds/x", "--dataset_root", root, "--skip_corrupt")
    res.assert_ok()
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "out").rglob("*.json")]
    assert record["zsbench"]["skipped_corrupt"] == 1 and record["zsbench"]["n_evaluated"] == 1


def test_large_images_do_not_spam_warnings(tmp_path, monkeypatch, caplog):
    """Images above PIL's MAX_IMAGE_PIXELS (but below the bomb limit) decode with one log line, no warnings."""
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 40x40 = 1600 pixels: a "large" image, cheaply
    monkeypatch.setattr("zsbench.datasets.base._big_image_logged", False, raising=False)
    for i in range(3):
        R.save_image(tmp_path / f"{i}.png", i, size=(40, 40))
    images = FileImageSet(tmp_path, [f"{i}.png" for i in range(3)])
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, logger="zsbench"):
        warnings.simplefilter("always")
        for i in range(3):
            assert images.load_image(i).size == (40, 40)
        decode_bytes((tmp_path / "0.png").read_bytes(), "mem:0.png")
    assert [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)] == []
    assert len([r for r in caplog.records if "MAX_IMAGE_PIXELS" in r.getMessage()]) == 1


def test_generated_shapes_have_normal_permissions_under_any_umask(tmp_path, monkeypatch):
    from zsbench.datasets.loaders import shapes

    monkeypatch.setitem(shapes._WRITERS, "shapes", (shapes._write_classification, 20))  # a small copy, quickly
    old = os.umask(0o077)  # the strictest common umask: mkdtemp's 0700 would stay, files 0600
    try:
        dest = shapes.ensure_generated(tmp_path, "shapes")
    finally:
        os.umask(old)
    paths = [dest, *dest.rglob("*")]
    assert len(paths) > 20
    for p in paths:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o755 if p.is_dir() else 0o644), (p, oct(mode))
    assert [p.name for p in tmp_path.iterdir()] == ["shapes"]  # no temp folder left
