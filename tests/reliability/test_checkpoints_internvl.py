"""InternVL checkpoints (.pth and the sharded HF folder) that must be refused in one line, never evaluated.

Tiny random checkpoints in both real formats come from ``zsbench.testing.internvl_tiny``; each test breaks one
copy and runs ``zsbench eval --model_type internvl``. The tokenizer file only has to exist for these refusals
(the checkpoint is refused before the tokenizer is read), so no reference data is needed.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from tests.reliability.conftest import CliResult, leftovers, run_cli
from tests.reliability.malicious import GARBAGE, WritesMarker


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    from zsbench.testing.internvl_tiny import write_tiny_checkpoints

    ck = write_tiny_checkpoints(tmp_path_factory.mktemp("internvl"), tokenizer_model=None)
    (ck.hf_folder / "tokenizer.model").write_bytes(b"placeholder: never read, the checkpoint is refused first")
    return ck


@pytest.fixture
def pretrained(tmp_path: Path, tiny) -> Path:
    """A fresh copy of the ``pretrained/`` layout (the .pth beside the HF folder) for one test to break."""
    root = Path(shutil.copytree(tiny.pth.parent, tmp_path / "pretrained"))
    return root


def _eval(tmp_path: Path, model: str, checkpoint: Path, *extra: str | Path) -> CliResult:
    return run_cli(
        "eval", "--model_type", "internvl", "--model", model, "--pretrained", checkpoint, "--dataset", "shapes",
        "--dataset_root", tmp_path / "data", "--cache_dir", tmp_path / "cache", "--num_workers", "0",
        "--output", tmp_path / "out" / "{dataset}_{model}.json", "--quiet", *extra,
    )  # fmt: skip


def _eval_pth(tmp_path: Path, pretrained: Path, pth: Path) -> CliResult:
    config = pretrained / "internvl_14b_224px" / "config.json"
    return _eval(tmp_path, "internvl_c_classification", pth, "--model_config", config)


def _eval_hf(tmp_path: Path, folder: Path) -> CliResult:
    return _eval(tmp_path, "internvl_g_classification_hf", folder)


def _assert_nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.safetensors"))
    assert leftovers(tmp_path) == []


def _pth_state(pretrained: Path) -> dict:
    import torch

    return torch.load(pretrained / "internvl_c_tiny.pth", map_location="cpu", weights_only=True)


# -- .pth ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_damaged_pth(tmp_path, pretrained, legacy, damage):
    import torch

    pth = pretrained / "internvl_c_tiny.pth"
    torch.save(_pth_state(pretrained), pth, _use_new_zipfile_serialization=not legacy)
    data = pth.read_bytes()
    pth.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": GARBAGE}[damage])
    want = {"empty": "empty (0 bytes)", "truncated": "truncated", "garbage": "neither a PyTorch checkpoint"}[damage]
    line = _eval_pth(tmp_path, pretrained, pth).assert_one_line_error(str(pth), want, "re-download")
    assert "weights_only" not in line or "holds pickled" in line  # no leaked torch multi-line help text
    _assert_nothing_written(tmp_path)


def test_pth_with_python_objects_says_how_to_convert(tmp_path, pretrained):
    import torch

    pth = pretrained / "internvl_c_tiny.pth"
    torch.save({"state_dict": _pth_state(pretrained), "args": argparse.Namespace(lr=0.1)}, pth)
    _eval_pth(tmp_path, pretrained, pth).assert_one_line_error(
        str(pth), "pickled Python objects", "argparse.Namespace", "will not execute", "re-save"
    )
    _assert_nothing_written(tmp_path)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_malicious_pth_never_runs(tmp_path, pretrained, legacy):
    import torch

    marker = tmp_path / "pwned"
    pth = pretrained / "internvl_c_tiny.pth"
    torch.save({**_pth_state(pretrained), "x": WritesMarker(marker)}, pth, _use_new_zipfile_serialization=not legacy)
    _eval_pth(tmp_path, pretrained, pth).assert_one_line_error(str(pth), "pickled Python objects", "will not execute")
    assert not marker.exists(), "zsbench ran code from the .pth"
    _assert_nothing_written(tmp_path)
    torch.load(pth, weights_only=False)  # the file really is malicious: an unsafe load runs its code
    assert marker.exists()


def test_pth_missing_key_is_named(tmp_path, pretrained):
    import torch

    pth = pretrained / "internvl_c_tiny.pth"
    state = _pth_state(pretrained)
    del state["text_projection"]
    torch.save(state, pth)
    _eval_pth(tmp_path, pretrained, pth).assert_one_line_error(str(pth), "missing keys 1: text_projection")
    _assert_nothing_written(tmp_path)


# -- HF folder (sharded safetensors) ---------------------------------------------------------------------
def test_index_pointing_at_a_missing_shard(tmp_path, pretrained):
    folder = pretrained / "internvl_14b_224px"
    (folder / "model-00002-of-00002.safetensors").unlink()
    _eval_hf(tmp_path, folder).assert_one_line_error("model.safetensors.index.json", "missing", "00002-of-00002")
    _assert_nothing_written(tmp_path)


@pytest.mark.parametrize("damage", ["empty", "truncated-header", "truncated-data", "garbage"])
def test_damaged_shard(tmp_path, pretrained, damage):
    shard = pretrained / "internvl_14b_224px" / "model-00001-of-00002.safetensors"
    data = shard.read_bytes()
    cut = {"empty": b"", "truncated-header": data[:50], "truncated-data": data[:-100], "garbage": GARBAGE}
    shard.write_bytes(cut[damage])
    want = {"empty": "empty (0 bytes)", "truncated-header": "truncated", "truncated-data": "truncated",
            "garbage": "not a valid safetensors file"}[damage]  # fmt: skip
    _eval_hf(tmp_path, shard.parent).assert_one_line_error(str(shard), want, "re-download")
    _assert_nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("content", "want"),
    [("{not json", "not valid JSON"), ('{"metadata": {}}', "no weight_map"), ('{"weight_map": 3}', "weight_map")],
)
def test_bad_shard_index(tmp_path, pretrained, content, want):
    index = pretrained / "internvl_14b_224px" / "model.safetensors.index.json"
    index.write_text(content)
    _eval_hf(tmp_path, index.parent).assert_one_line_error(str(index), want)
    _assert_nothing_written(tmp_path)


def test_index_names_a_tensor_its_shard_lacks(tmp_path, pretrained):
    index = pretrained / "internvl_14b_224px" / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    data["weight_map"]["ghost.weight"] = "model-00001-of-00002.safetensors"
    index.write_text(json.dumps(data))
    _eval_hf(tmp_path, index.parent).assert_one_line_error(str(index), "ghost.weight")
    _assert_nothing_written(tmp_path)


def test_bin_only_folder_says_how_to_convert(tmp_path, pretrained):
    folder = pretrained / "internvl_14b_224px"
    for f in folder.glob("model*"):
        f.unlink()
    (folder / "pytorch_model.bin").write_bytes(b"never read")
    _eval_hf(tmp_path, folder).assert_one_line_error(str(folder), "pytorch_model", "safe_serialization")
    _assert_nothing_written(tmp_path)
