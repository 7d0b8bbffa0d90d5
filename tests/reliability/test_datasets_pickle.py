"""CIFAR batches are pickles: loaded with a restricted unpickler, so a crafted file never runs code."""

from __future__ import annotations

import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from zsbench.datasets import load_dataset
from zsbench.testing import replicas as R


class _RunsCode:
    """Pickles as a call of ``func(*args)``: what a malicious "CIFAR batch" would contain."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _cifar_root(tmp_path):
    root = tmp_path / "cifar"
    R.write_cifar10(root, 4)
    return root, root / "cifar-10-batches-py" / "test_batch"


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval"])
def test_crafted_cifar_pickle_never_runs_code(tmp_path, fake_eval, kind):
    root, batch = _cifar_root(tmp_path)
    marker = tmp_path / "pwned"
    if kind == "os.system":
        payload = _RunsCode(os.system, f"touch {marker}")
    else:
        payload = _RunsCode(eval, f"open({str(marker)!r}, 'w').write('x')")
    batch.write_bytes(pickle.dumps({"data": payload, "labels": [0, 1, 2, 3]}, protocol=2))
    res = fake_eval("--dataset", "cifar10", "--dataset_root", root, "--allow_incomplete")
    line = res.assert_one_line_error(str(batch), "not a CIFAR batch", "refusing")
    assert ("system" in line) if kind == "os.system" else ("eval" in line)
    assert not marker.exists()


def test_truncated_cifar_pickle_is_one_line(tmp_path, fake_eval):
    root, batch = _cifar_root(tmp_path)
    raw = batch.read_bytes()
    batch.write_bytes(raw[: len(raw) // 2])
    res = fake_eval("--dataset", "cifar10", "--dataset_root", root, "--allow_incomplete")
    res.assert_one_line_error(str(batch), "truncated or damaged", "download")


def test_truncated_cifar_meta_is_one_line(tmp_path, fake_eval):
    root, batch = _cifar_root(tmp_path)
    meta = batch.parent / "batches.meta"
    meta.write_bytes(meta.read_bytes()[:-5])
    res = fake_eval("--dataset", "cifar10", "--dataset_root", root, "--allow_incomplete")
    res.assert_one_line_error(str(meta), "truncated or damaged")


def test_cifar_batch_with_wrong_pixel_count_is_one_line(tmp_path, fake_eval):
    root, batch = _cifar_root(tmp_path)
    batch.write_bytes(pickle.dumps({"data": np.zeros((4, 100), np.uint8), "labels": [0, 1, 2, 3]}))
    res = fake_eval("--dataset", "cifar10", "--dataset_root", root, "--allow_incomplete")
    res.assert_one_line_error(str(batch), "400 pixel values for 4 labels")


def test_python2_style_cifar_pickle_still_loads(tmp_path):
    """Protocol 2 with bytes keys and numpy arrays (as the real files): the allowed globals are enough."""
    root, batch = _cifar_root(tmp_path)
    labels = [3, 1, 4, 1]
    data = np.arange(4 * 3072, dtype=np.uint8).reshape(4, 3072)
    batch.write_bytes(pickle.dumps({b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": data}, 2))
    loaded = load_dataset("cifar10", root, allow_incomplete=True)
    assert loaded.targets == labels
    assert np.asarray(loaded.images.load_image(1)).tolist() == data[1].reshape(3, 32, 32).transpose(1, 2, 0).tolist()


def test_wds_npy_target_with_pickled_objects_is_refused(tmp_path, fake_eval):
    """A multilabel ``.npy`` holding a pickled object array is read with allow_pickle=False: one line, no code."""
    root = tmp_path / "wds"
    (root / "test").mkdir(parents=True)
    (root / "dataset_type.txt").write_text("multilabel\n")
    (root / "classnames.txt").write_text("a\nb\n")
    (root / "zeroshot_classification_templates.txt").write_text("a photo of {c}.\n")
    marker = tmp_path / "pwned"
    npy = io.BytesIO()
    np.save(npy, np.array([_RunsCode(os.system, f"touch {marker}")], dtype=object), allow_pickle=True)
    with tarfile.open(root / "test" / "0.tar", "w") as tar:
        for name, blob in (("s0.png", R.image_bytes(0)), ("s0.npy", npy.getvalue())):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    (root / "test" / "nshards.txt").write_text("1\n")
    res = fake_eval("--dataset", "wds/x", "--dataset_root", root)
    res.assert_one_line_error(str(root / "test" / "0.tar"), "label member of sample 's0'", "unreadable")
    assert not marker.exists()
