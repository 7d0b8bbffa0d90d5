"""A corrupt image names the file; --skip_corrupt skips it and the result says how many were skipped."""

from __future__ import annotations

import json

import pytest

from zsbench.cli import main
from zsbench.testing import fake


@pytest.fixture
def broken_root(tmp_path):
    from zsbench.testing.replicas import write_flickr30k

    root = tmp_path / "flickr30k"
    write_flickr30k(root, 6)
    victim = sorted((root / "Images").glob("*.jpg"))[2]
    victim.write_bytes(b"not a jpeg at all")
    return root, victim


@pytest.mark.parametrize("workers", ["0", "2"])
def test_corrupt_image_is_one_line_naming_the_file(tmp_path, broken_root, capsys, workers):
    fake.register()
    root, victim = broken_root
    code = main(["eval", "--model_type", "fake", "--model", "m", "--dataset", "flickr30k", "--dataset_root",
                 str(root), "--allow_incomplete", "--recall_k", "1", "--num_workers", workers, "--no_cache",
                 "--quiet", "--output", str(tmp_path / "r.json")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert victim.name in err and "--skip_corrupt" in err


def test_skip_corrupt_records_the_count(tmp_path, broken_root):
    fake.register()
    root, _ = broken_root
    out = tmp_path / "r.json"
    code = main(["eval", "--model_type", "fake", "--model", "m", "--dataset", "flickr30k", "--dataset_root",
                 str(root), "--allow_incomplete", "--recall_k", "1", "--num_workers", "0", "--no_cache",
                 "--quiet", "--skip_corrupt", "--output", str(out)])  # fmt: skip
    assert code == 0
    prov = json.loads(out.read_text())["zsbench"]
    assert prov["skipped_corrupt"] == 1
    assert prov["n_images"] == 6 and prov["n_evaluated"] == 5
    assert prov["n_captions"] == 25  # the skipped image's captions are gone too
