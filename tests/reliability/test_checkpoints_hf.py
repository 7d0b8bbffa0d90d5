"""transformers CLIP folders (``--model_type hf``) that must be refused in one line, never evaluated.

A tiny random CLIPModel folder is built once per module; each test copies it, breaks one thing (a missing weight,
an extra key, a truncated shard, a pickle that runs code, an ``auto_map`` to Python code in the folder) and runs
``zsbench eval`` on it: exit 2, one ``zsbench: error:`` line naming the file and the problem, nothing written.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

from tests.reliability.conftest import CliResult, leftovers, run_cli  # noqa: E402
from tests.reliability.malicious import GARBAGE, WritesMarker

WORDS = ["<pad>", "<|endoftext|>", "<unk>", "<|startoftext|>", "a", "of", "photo", "red", "circle", "square"]


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CLIPModel folder (widths 32, 2 layers, 32 px) with a word-level tokenizer: well under a megabyte."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("hf_clip_ok")
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<|endoftext|>", unk_token="<unk>"
    )
    layers = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={**layers, "vocab_size": len(WORDS), "max_position_embeddings": 16, "eos_token_id": 1,
                     "pad_token_id": 0, "bos_token_id": 3},
        vision_config={**layers, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )  # fmt: skip
    torch.manual_seed(0)
    CLIPModel(config).eval().save_pretrained(folder)
    tok.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


@pytest.fixture
def folder(tmp_path: Path, hf_dir: Path) -> Path:
    """A fresh copy of the good folder for one test to break."""
    return Path(shutil.copytree(hf_dir, tmp_path / "model"))


def _eval(tmp_path: Path, folder: Path) -> CliResult:
    return run_cli(
        "eval", "--model_type", "hf", "--model", folder, "--dataset", "shapes", "--dataset_root", tmp_path / "data",
        "--cache_dir", tmp_path / "cache", "--num_workers", "0", "--output", tmp_path / "out" / "{dataset}.json",
        "--quiet",
    )  # fmt: skip


def _assert_nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.safetensors"))
    assert leftovers(tmp_path) == []


def _state(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _save(state: dict, path: Path) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata={"format": "pt"})
    return path


def _shard(folder: Path) -> tuple[Path, Path]:
    """Replace model.safetensors by two shards and an index, as save_pretrained does for big models."""
    state = _state(folder)
    (folder / "model.safetensors").unlink()
    keys = sorted(state)
    half = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2],
            "model-00002-of-00002.safetensors": keys[len(keys) // 2 :]}  # fmt: skip
    weight_map = {}
    for shard, names in half.items():
        _save({k: state[k] for k in names}, folder / shard)
        weight_map |= dict.fromkeys(names, shard)
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return index, folder / "model-00002-of-00002.safetensors"


def _to_bin(folder: Path, *, legacy: bool = False, extra: dict | None = None) -> Path:
    """Replace model.safetensors by pytorch_model.bin (zip or legacy torch.save format)."""
    import torch

    state = {**_state(folder), **(extra or {})}
    (folder / "model.safetensors").unlink()
    path = folder / "pytorch_model.bin"
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return path


# -- keys --------------------------------------------------------------------------------------------------
def test_missing_weight_is_refused_not_random(tmp_path, folder):
    state = _state(folder)
    del state["text_projection.weight"]
    _save(state, folder / "model.safetensors")
    _eval(tmp_path, folder).assert_one_line_error(str(folder), "missing keys 1: text_projection.weight", "random")
    _assert_nothing_written(tmp_path)


def test_many_missing_weights_give_the_first_few_and_the_count(tmp_path, folder):
    state = {k: v for k, v in _state(folder).items() if not k.startswith("text_model.encoder.")}
    _save(state, folder / "model.safetensors")
    line = _eval(tmp_path, folder).assert_one_line_error("missing keys 32: text_model.encoder.layers.0.", "more)")
    assert line.count("text_model.encoder") <= 8
    _assert_nothing_written(tmp_path)


def test_unexpected_key_is_refused(tmp_path, folder):
    import torch

    _save({**_state(folder), "extra_head.weight": torch.zeros(2)}, folder / "model.safetensors")
    _eval(tmp_path, folder).assert_one_line_error(str(folder), "unexpected keys 1: extra_head.weight")
    _assert_nothing_written(tmp_path)


def test_wrong_shape_names_both_shapes(tmp_path, folder):
    import torch

    _save({**_state(folder), "visual_projection.weight": torch.zeros(3, 3)}, folder / "model.safetensors")
    _eval(tmp_path, folder).assert_one_line_error("visual_projection.weight [3, 3] (expected [16, 32])")
    _assert_nothing_written(tmp_path)


def test_harmless_position_ids_are_allowed(folder):
    """Checkpoints saved by transformers < 4.31 hold position_ids buffers: on the explicit allow-list."""
    import torch

    import zsbench

    state = _state(folder)
    extra = {"text_model.embeddings.position_ids": torch.arange(16)[None],
             "vision_model.embeddings.position_ids": torch.arange(17)[None]}  # fmt: skip
    _save({**state, **extra}, folder / "model.safetensors")
    m = zsbench.load_model("hf", "x", str(folder), device="cpu")
    assert torch.equal(m.module.state_dict()["text_projection.weight"], state["text_projection.weight"])


# -- no code from the folder -------------------------------------------------------------------------------
@pytest.mark.parametrize("config_file", ["config.json", "tokenizer_config.json"])
def test_auto_map_to_folder_code_is_refused_and_never_run(tmp_path, folder, config_file):
    marker = tmp_path / "pwned"
    code = f"open({str(marker)!r}, 'w').write('code ran')\nfrom transformers import CLIPModel as EvilModel\n"
    (folder / "evil.py").write_text(code)
    cfg = json.loads((folder / config_file).read_text())
    cfg["auto_map"] = {"AutoModel": "evil.EvilModel", "AutoTokenizer": ["evil.EvilModel", None]}
    (folder / config_file).write_text(json.dumps(cfg))
    _eval(tmp_path, folder).assert_one_line_error(str(folder / config_file), "auto_map", "evil.EvilModel", "never")
    assert not marker.exists(), "zsbench ran Python code from the model folder"
    _assert_nothing_written(tmp_path)


# -- damaged safetensors, single file and sharded ----------------------------------------------------------
@pytest.mark.parametrize("damage", ["empty", "truncated-header", "truncated-data", "garbage"])
def test_damaged_model_safetensors(tmp_path, folder, damage):
    path = folder / "model.safetensors"
    data = path.read_bytes()
    cut = {"empty": b"", "truncated-header": data[:100], "truncated-data": data[:-1000], "garbage": GARBAGE}
    path.write_bytes(cut[damage])
    want = {"empty": "empty (0 bytes)", "truncated-header": "truncated", "truncated-data": "truncated",
            "garbage": "not a valid safetensors file"}[damage]  # fmt: skip
    _eval(tmp_path, folder).assert_one_line_error(str(path), want, "re-download")
    _assert_nothing_written(tmp_path)


def test_sharded_folder_loads(folder):
    """The good sharded layout passes the checks (they must not refuse what transformers reads correctly)."""
    import torch

    import zsbench

    state = _state(folder)
    _shard(folder)
    m = zsbench.load_model("hf", "x", str(folder), device="cpu")
    assert torch.equal(m.module.state_dict()["text_projection.weight"], state["text_projection.weight"])


def test_index_pointing_at_a_missing_shard(tmp_path, folder):
    index, second = _shard(folder)
    second.unlink()
    _eval(tmp_path, folder).assert_one_line_error(str(index), "missing", second.name)
    _assert_nothing_written(tmp_path)


def test_truncated_shard(tmp_path, folder):
    _, second = _shard(folder)
    second.write_bytes(second.read_bytes()[:-500])
    _eval(tmp_path, folder).assert_one_line_error(str(second), "truncated")
    _assert_nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("content", "want"),
    [
        ("{not json", "not valid JSON"),
        ('{"metadata": {}}', "no weight_map"),
        ('{"weight_map": [1]}', "not a {tensor name: shard file} object"),
    ],
)
def test_bad_shard_index(tmp_path, folder, content, want):
    index, _ = _shard(folder)
    index.write_text(content)
    _eval(tmp_path, folder).assert_one_line_error(str(index), want)
    _assert_nothing_written(tmp_path)


def test_index_names_a_tensor_its_shard_lacks(tmp_path, folder):
    index, _ = _shard(folder)
    data = json.loads(index.read_text())
    data["weight_map"]["ghost.weight"] = "model-00001-of-00002.safetensors"
    index.write_text(json.dumps(data))
    _eval(tmp_path, folder).assert_one_line_error(str(index), "ghost.weight")
    _assert_nothing_written(tmp_path)


def test_index_pointing_outside_the_folder(tmp_path, folder):
    index, second = _shard(folder)
    shutil.move(second, tmp_path / second.name)
    data = json.loads(index.read_text())
    data["weight_map"] = {k: f"../{v}" if v == second.name else v for k, v in data["weight_map"].items()}
    index.write_text(json.dumps(data))
    _eval(tmp_path, folder).assert_one_line_error(str(index), "outside")
    _assert_nothing_written(tmp_path)


def test_folder_without_weights(tmp_path, folder):
    (folder / "model.safetensors").unlink()
    _eval(tmp_path, folder).assert_one_line_error(str(folder), "no weights", "model.safetensors")
    _assert_nothing_written(tmp_path)


# -- pytorch_model.bin (pickle-based) ------------------------------------------------------------------------
def test_bin_folder_loads(folder):
    import zsbench

    _to_bin(folder)
    assert zsbench.load_model("hf", "x", str(folder), device="cpu").module is not None


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_damaged_pytorch_model_bin(tmp_path, folder, legacy, damage):
    path = _to_bin(folder, legacy=legacy)
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": GARBAGE}[damage])
    want = {"empty": "empty (0 bytes)", "truncated": "truncated", "garbage": "re-download"}[damage]
    _eval(tmp_path, folder).assert_one_line_error(str(path), want)
    _assert_nothing_written(tmp_path)


def test_bin_with_python_objects_says_how_to_convert(tmp_path, folder):
    import argparse

    path = _to_bin(folder, extra={"training_args": argparse.Namespace(lr=0.1)})
    _eval(tmp_path, folder).assert_one_line_error(str(path), "pickled Python objects", "argparse.Namespace", "re-save")
    _assert_nothing_written(tmp_path)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_malicious_bin_never_runs(tmp_path, folder, legacy):
    import torch

    marker = tmp_path / "pwned"
    path = _to_bin(folder, legacy=legacy, extra={"x": WritesMarker(marker)})
    _eval(tmp_path, folder).assert_one_line_error(str(path), "pickled Python objects", "will not execute")
    assert not marker.exists(), "zsbench ran code from pytorch_model.bin"
    _assert_nothing_written(tmp_path)
    torch.load(path, weights_only=False)  # the file really is malicious: an unsafe load runs its code
    assert marker.exists()


def test_sharded_bin_with_a_missing_shard(tmp_path, folder):
    import torch

    state = _state(folder)
    (folder / "model.safetensors").unlink()
    keys = sorted(state)
    torch.save({k: state[k] for k in keys[:10]}, folder / "pytorch_model-00001-of-00002.bin")
    weight_map = {k: "pytorch_model-00001-of-00002.bin" if i < 10 else "pytorch_model-00002-of-00002.bin"
                  for i, k in enumerate(keys)}  # fmt: skip
    index = folder / "pytorch_model.bin.index.json"
    index.write_text(json.dumps({"weight_map": weight_map}))
    _eval(tmp_path, folder).assert_one_line_error(str(index), "missing", "pytorch_model-00002-of-00002.bin")
    _assert_nothing_written(tmp_path)


def test_malicious_bin_shard_never_runs(tmp_path, folder):
    import torch

    marker = tmp_path / "pwned"
    state = _state(folder)
    (folder / "model.safetensors").unlink()
    shard = folder / "pytorch_model-00001-of-00001.bin"
    torch.save({**state, "x": WritesMarker(marker)}, shard)
    index = folder / "pytorch_model.bin.index.json"
    index.write_text(json.dumps({"weight_map": dict.fromkeys(state, shard.name)}))
    _eval(tmp_path, folder).assert_one_line_error(str(shard), "pickled Python objects")
    assert not marker.exists()
    _assert_nothing_written(tmp_path)
