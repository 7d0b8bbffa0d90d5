"""The embedding cache never serves vectors that are not the ones a recompute would give.

An entry altered on disk is a miss (recomputed, rewritten, one warning naming the file); two dataset copies with
equal names, sizes and mtimes but other bytes never share an entry; ``--fingerprint content`` catches replaced
files whose mtime was restored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from zsbench.testing import fake

CLASSES = ["red", "green", "blue"]
COLORS = [(250, 10, 10), (10, 250, 10), (10, 10, 250)]


class StatOnlyFiles:
    """File images whose ``stat`` fingerprint ignores the root (names, sizes, mtimes only), as before this change.

    The engine must keep two copies apart by itself (resolved root in the key), whatever the image set hashes.
    """

    def __init__(self, root: Path, names: list[str]) -> None:
        self.root, self.names = root, names

    def __len__(self) -> int:
        return len(self.names)

    def image_key(self, index: int) -> str:
        return self.names[index]

    def load_image(self, index: int) -> Any:
        from PIL import Image

        with Image.open(self.root / self.names[index]) as im:
            return im.convert("RGB")

    def fingerprint(self, mode: str = "stat") -> str:
        h = hashlib.sha256(mode.encode())
        for name in self.names:
            p = self.root / name
            if mode == "content":
                h.update(name.encode() + hashlib.sha256(p.read_bytes()).digest())
            else:
                st = p.stat()
                h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


def load_ppm_folder(root: Any, *, split: str, language: str, spec: Any, **_: Any) -> Any:
    from zsbench.datasets import ClassificationData

    names = sorted(p.name for p in Path(root).glob("*.ppm"))
    targets = [int(n.split("_")[0]) for n in names]
    return ClassificationData(StatOnlyFiles(Path(root), names), targets, CLASSES, ["a photo of {c}.", "{c}"])


@pytest.fixture
def ppm_dataset(fake_model):
    from zsbench.datasets import DATASETS, DatasetSpec, register_dataset

    if "reliability_ppm" not in DATASETS:
        register_dataset(DatasetSpec("reliability_ppm", "zeroshot_classification", f"{__name__}:load_ppm_folder"))
    return "reliability_ppm"


def write_ppm_copy(root: Path, shift: int, mtime_ns: int = 1_600_000_000_000_000_000) -> None:
    """Nine 8x8 binary PPM images (fixed size: header + 192 bytes); ``shift`` rotates the colours."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(9):
        label = i % 3
        rgb = bytes(COLORS[(label + shift) % 3]) * 64
        path = root / f"{label}_{i}.ppm"
        path.write_bytes(b"P6 8 8 255\n" + rgb)
        os.utime(path, ns=(mtime_ns, mtime_ns))


def stats(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())


def result(tmp_path: Path, dataset: str) -> dict[str, Any]:
    return json.loads((tmp_path / "out" / f"{dataset}_m_en_zeroshot_classification.json").read_text())


def image_entries(cache: Path) -> list[Path]:
    from safetensors import safe_open

    entries = []
    for p in sorted(cache.rglob("*.safetensors")):
        with safe_open(str(p), framework="pt") as f:
            if json.loads(f.metadata()["parts"]).get("kind") == "image":
                entries.append(p)
    return entries


def test_altered_entry_is_a_miss_recomputed_and_rewritten(fake_eval, tmp_path, caplog):
    fake_eval("--dataset", "fake_cls").assert_ok()
    first = result(tmp_path, "fake_cls")
    [entry] = image_entries(tmp_path / "cache")
    data = bytearray(entry.read_bytes())
    data[-1] ^= 0x01  # one bit of the last embedding value: the header and key still match
    entry.write_bytes(bytes(data))
    images_before = fake.CALLS["images"]

    with caplog.at_level(logging.WARNING, logger="zsbench"):
        fake_eval("--dataset", "fake_cls").assert_ok()
    second = result(tmp_path, "fake_cls")
    assert second["zsbench"]["cache"]["image_embeddings"] == "miss"
    assert fake.CALLS["images"] == images_before + 30  # recomputed, not read from the altered file
    assert second["metrics"] == first["metrics"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(entry) in warnings[0] and "\n" not in warnings[0], warnings
    assert entry.read_bytes() != bytes(data)  # rewritten with the recomputed bytes

    fake_eval("--dataset", "fake_cls").assert_ok()  # the rewritten entry passes its check
    assert result(tmp_path, "fake_cls")["zsbench"]["cache"]["image_embeddings"] == "disk"


def test_copies_with_equal_names_sizes_mtimes_under_other_roots_do_not_share(fake_eval, tmp_path, ppm_dataset):
    copy_a, copy_b = tmp_path / "copy_a", tmp_path / "copy_b"
    write_ppm_copy(copy_a, shift=0)
    write_ppm_copy(copy_b, shift=1)
    assert stats(copy_a) == stats(copy_b)  # only the bytes differ
    assert [p.read_bytes() for p in sorted(copy_a.iterdir())] != [p.read_bytes() for p in sorted(copy_b.iterdir())]

    fake_eval("--dataset", ppm_dataset, "--dataset_root", copy_a).assert_ok()
    images_before = fake.CALLS["images"]
    fake_eval("--dataset", ppm_dataset, "--dataset_root", copy_b).assert_ok()
    b = result(tmp_path, ppm_dataset)
    assert b["zsbench"]["cache"]["image_embeddings"] == "miss"
    assert fake.CALLS["images"] == images_before + 9  # copy_b's own images were encoded
    assert len(image_entries(tmp_path / "cache")) == 2  # one entry per copy
    fake_eval("--dataset", ppm_dataset, "--dataset_root", copy_b, "--no_cache").assert_ok()
    assert b["metrics"] == result(tmp_path, ppm_dataset)["metrics"]
    fake_eval("--dataset", ppm_dataset, "--dataset_root", copy_a).assert_ok()  # and copy_a still hits its own
    assert result(tmp_path, ppm_dataset)["zsbench"]["cache"]["image_embeddings"] == "disk"


def test_content_fingerprint_catches_replaced_bytes_with_restored_mtime(fake_eval, tmp_path, ppm_dataset):
    root = tmp_path / "data"
    write_ppm_copy(root, shift=0)
    fake_eval("--dataset", ppm_dataset, "--dataset_root", root, "--fingerprint", "content").assert_ok()
    first = result(tmp_path, ppm_dataset)
    assert first["zsbench"]["fingerprint"] == "content"

    before = stats(root)
    write_ppm_copy(root, shift=2)  # same names and sizes; os.utime restores the mtimes
    assert stats(root) == before

    images_before = fake.CALLS["images"]
    fake_eval("--dataset", ppm_dataset, "--dataset_root", root, "--fingerprint", "content").assert_ok()
    second = result(tmp_path, ppm_dataset)
    assert second["zsbench"]["cache"]["image_embeddings"] == "miss"
    assert fake.CALLS["images"] == images_before + 9
    fake_eval("--dataset", ppm_dataset, "--dataset_root", root, "--no_cache").assert_ok()
    assert second["metrics"] == result(tmp_path, ppm_dataset)["metrics"]


def test_fingerprint_mode_is_in_the_key_and_the_provenance(fake_eval, tmp_path):
    fake_eval("--dataset", "fake_cls").assert_ok()
    stat_run = result(tmp_path, "fake_cls")
    assert stat_run["zsbench"]["fingerprint"] == "stat"
    fake_eval("--dataset", "fake_cls", "--fingerprint", "content").assert_ok()
    content_run = result(tmp_path, "fake_cls")
    assert content_run["zsbench"]["fingerprint"] == "content"
    assert content_run["zsbench"]["cache"]["image_embeddings"] == "miss"  # a stat entry never answers content
    assert len(image_entries(tmp_path / "cache")) == 2


def test_unknown_fingerprint_mode_is_refused_before_work(tmp_path, fake_model):
    """Through the API (the CLI's choices already refuse it): one line, nothing loaded or written."""
    from zsbench.engine import Engine
    from zsbench.engine.config import EvalConfig
    from zsbench.errors import ZsbenchError

    config = EvalConfig(model_type="fake", models=[("m", "p")], datasets=[("fake_cls", None)], fingerprint="mtime",
                        cache_dir="", output=str(tmp_path / "out" / "r.json"), verbose=False, progress=False)  # fmt: skip
    images_before = fake.CALLS["images"]
    with pytest.raises(ZsbenchError, match="--fingerprint must be one of stat, content"):
        Engine(config).run()
    assert fake.CALLS["images"] == images_before
    assert not (tmp_path / "out").exists()
