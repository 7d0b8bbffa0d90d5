"""Strict checkpoint loading, the public load() for all six adapters, and low-precision smoke runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from zsbench.errors import CheckpointError, UnknownNameError
from zsbench.models.internvl import ADAPTERS, load
from zsbench.models.internvl.checkpoint import load_hf_folder, load_pth

# -- strict loading -------------------------------------------------------------------------------------


def _copy_pth_renamed(src: Path, dst: Path, old: str, new: str | None) -> Path:
    state = torch.load(src, map_location="cpu", weights_only=True)
    tensor = state.pop(old)
    if new is not None:
        state[new] = tensor
    torch.save(state, dst)
    return dst


def test_pth_renamed_key_is_named(tiny_checkpoints: Any, tmp_path: Path) -> None:
    bad = _copy_pth_renamed(tiny_checkpoints.pth, tmp_path / "bad.pth", "blocks.1.ls2.gamma", "blocks.1.ls2")
    with pytest.raises(CheckpointError) as err:
        load_pth(bad, config=tiny_checkpoints.config)
    msg = str(err.value)
    assert "missing keys 1: blocks.1.ls2.gamma" in msg
    assert "unexpected keys 1: blocks.1.ls2" in msg
    assert str(bad) in msg


def test_pth_extra_key_can_be_allowed(tiny_checkpoints: Any, tmp_path: Path) -> None:
    state = torch.load(tiny_checkpoints.pth, map_location="cpu", weights_only=True)
    state["optimizer_step"] = torch.tensor(3)
    torch.save(state, tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match="unexpected keys 1: optimizer_step.*ignore_unexpected"):
        load_pth(tmp_path / "extra.pth", config=tiny_checkpoints.config)
    model = load_pth(tmp_path / "extra.pth", config=tiny_checkpoints.config, ignore_unexpected=("optimizer_*",))
    assert not any(p.is_meta for p in model.parameters())


def test_pth_garbage_file_is_a_checkpoint_error(tmp_path: Path) -> None:
    from zsbench.models.internvl.config import pth_config

    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pth"):
        load_pth(tmp_path / "bad.pth", config=pth_config())


def test_pth_wrong_config_reports_shapes(tiny_checkpoints: Any) -> None:
    from zsbench.models.internvl.config import pth_config

    # The fixed real config against a tiny file: every tensor has the wrong shape; no 50 GB allocation happens.
    with pytest.raises(CheckpointError) as err:
        load_pth(tiny_checkpoints.pth, config=pth_config())
    msg = str(err.value)
    assert "missing keys 868: blocks.2.attn.k_norm.weight" in msg  # the tiny file has 2 of the 48 blocks
    assert "blocks.0.attn.qkv.weight [96, 32] (expected [9600, 3200])" in msg


def test_hf_renamed_key_is_named(tiny_checkpoints: Any, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "hf"
    shutil.copytree(tiny_checkpoints.hf_folder, folder)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    old, new = "vision_model.encoder.layers.0.attn.q_norm.weight", "vision_model.encoder.layers.0.attn.qnorm.weight"
    shard = folder / index["weight_map"].pop(old)
    tensors = load_file(str(shard))
    tensors[new] = tensors.pop(old)
    save_file(tensors, str(shard))
    index["weight_map"][new] = shard.name
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    for mode in ("InternVL-C", "InternVL-G"):
        with pytest.raises(CheckpointError) as err:
            load_hf_folder(folder, mode=mode)
        assert f"missing keys 1: {old}" in str(err.value) and f"unexpected keys 1: {new}" in str(err.value)


def test_hf_missing_g_key_only_matters_for_g(tiny_checkpoints: Any, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "hf"
    shutil.copytree(tiny_checkpoints.hf_folder, folder)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shard = folder / index["weight_map"].pop("query_tokens")
    tensors = load_file(str(shard))
    del tensors["query_tokens"]
    save_file(tensors, str(shard))
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    load_hf_folder(folder, mode="InternVL-C")  # G-only keys are neither needed nor read in C mode
    with pytest.raises(CheckpointError, match="missing keys 1: query_tokens"):
        load_hf_folder(folder, mode="InternVL-G")


def test_hf_single_file_and_missing_files(tiny_checkpoints: Any, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "single"
    folder.mkdir()
    shutil.copy(tiny_checkpoints.hf_folder / "config.json", folder)
    merged: dict[str, torch.Tensor] = {}
    for shard in sorted(tiny_checkpoints.hf_folder.glob("*.safetensors")):
        merged |= load_file(str(shard))
    save_file(merged, str(folder / "model.safetensors"))
    g1 = load_hf_folder(folder, mode="InternVL-G")
    g2 = load_hf_folder(tiny_checkpoints.hf_folder, mode="InternVL-G")
    for (n1, p1), (n2, p2) in zip(g1.state_dict().items(), g2.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2)
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="neither model.safetensors.index.json nor model.safetensors"):
        load_hf_folder(folder)
    with pytest.raises(CheckpointError, match="not found"):
        load_pth(tmp_path / "nope.pth", config=tiny_checkpoints.config)


def test_loaded_model_is_fully_materialised(tiny_checkpoints: Any) -> None:
    model = load_hf_folder(tiny_checkpoints.hf_folder, mode="InternVL-G", dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    inv_freq = model.qllama.model.rotary.inv_freq  # non-persistent: recomputed, kept in fp32
    assert inv_freq.dtype == torch.float32 and inv_freq.device.type == "cpu"
    assert not any(p.requires_grad for p in model.parameters()) and not model.training


# -- public load() ----------------------------------------------------------------------------------------


def test_unknown_adapter_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as err:
        load("internvl_c_retrieval_hff", "x", device="cpu", precision="fp32")
    for name in ADAPTERS.names():
        assert name in str(err.value)


def test_package_import_does_not_import_torch() -> None:
    code = "import sys, zsbench.models, zsbench.models.internvl; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("adapter", ADAPTERS.names())
def test_all_adapters_load_and_run(tiny_with_tokenizer: Any, adapter: str) -> None:
    from PIL import Image

    spec = ADAPTERS.get(adapter)
    ck = tiny_with_tokenizer
    if spec.format == "pth":
        m = load(adapter, str(ck.pth), device="cpu", precision="auto", config=ck.config)
    else:
        m = load(adapter, str(ck.hf_folder), device="cpu", precision="auto")
    assert m.precision.weights == "fp32"
    tokens = m.tokenize(["a photo of a cat.", "a dog"])
    assert tokens.shape == ((2, 11) if spec.padding == "longest" else (2, 80))
    pixels = torch.stack([m.transform(Image.new("RGB", (70, 40), (200, 10, 90)))] * 3)
    img, txt = m.encode_image(pixels), m.encode_text(tokens)
    assert img.shape == (3, 16) and txt.shape == (2, 16)
    assert torch.isfinite(img).all() and torch.isfinite(txt).all()
    ident = m.identity
    assert ident["model_type"] == "internvl" and ident["architecture"] == adapter
    assert ident["extra"]["mode"] == spec.mode and ident["extra"]["format"] == spec.format
    assert ident["weights"]["sha256"] and ident["preprocess"]["kind"] == spec.transform
    assert ident["tokenizer"]["padding"] == spec.padding and len(ident["tokenizer"]["sha256"]) == 64
    json.dumps(ident)  # JSON-able (cache keys, result files)


def test_pth_and_hf_agree_and_g_differs(tiny_with_tokenizer: Any) -> None:
    ck = tiny_with_tokenizer
    pth = load("internvl_c_retrieval", str(ck.pth), device="cpu", precision="fp32", config=ck.config)
    c_hf = load("internvl_c_retrieval_hf", str(ck.hf_folder), device="cpu", precision="fp32")
    g_hf = load("internvl_g_retrieval_hf", str(ck.hf_folder), device="cpu", precision="fp32")
    texts = ["a photo of a cat.", "A man riding a horse on the beach at sunset."]
    torch.testing.assert_close(
        pth.encode_text(pth.tokenize(texts)), c_hf.encode_text(c_hf.tokenize(texts)), atol=1e-5, rtol=0
    )
    pixels = torch.randn(2, 3, 56, 56, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(pth.encode_image(pixels), c_hf.encode_image(pixels), atol=1e-5, rtol=0)
    g = g_hf.encode_image(pixels)
    assert not torch.allclose(g, c_hf.encode_image(pixels), atol=1e-2)
    assert bool(((g.norm(dim=1) > 0) & (g.norm(dim=1) <= 2 + 1e-6)).all())
    assert pth.identity["weights"] != c_hf.identity["weights"]


@pytest.mark.parametrize("precision", ["fp16", "bf16", "amp_bf16"])
def test_low_precision_smoke(tiny_with_tokenizer: Any, precision: str) -> None:
    ck = tiny_with_tokenizer
    for adapter, path, opts in (
        ("internvl_c_classification", ck.pth, {"config": ck.config}),
        ("internvl_g_retrieval_hf", ck.hf_folder, {}),
    ):
        m = load(adapter, str(path), device="cpu", precision=precision, **opts)
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "amp_bf16": torch.float32}[precision]
        assert {p.dtype for p in m.module.parameters()} == {dtype}
        img = m.encode_image(torch.randn(2, 3, 56, 56))
        txt = m.encode_text(m.tokenize(["a photo of a cat.", "x"]))
        assert img.dtype == torch.float32 and torch.isfinite(img).all() and torch.isfinite(txt).all()


def test_pth_config_option_accepts_a_config_json(tiny_with_tokenizer: Any) -> None:
    ck = tiny_with_tokenizer
    m = load(
        "internvl_c_retrieval", str(ck.pth), device="cpu", precision="fp32", config=str(ck.hf_folder / "config.json")
    )
    assert m.identity["extra"]["config"]["vision"]["hidden_size"] == 32
    with pytest.raises(CheckpointError, match="unknown option"):
        load("internvl_c_retrieval", str(ck.pth), device="cpu", precision="fp32", confg=ck.config)


def test_pth_in_the_old_non_zip_format_still_loads(tiny_checkpoints: Any, tmp_path: Path) -> None:
    state = torch.load(tiny_checkpoints.pth, map_location="cpu", weights_only=True)
    torch.save(state, tmp_path / "old.pth", _use_new_zipfile_serialization=False)  # cannot be mmap'd
    old = load_pth(tmp_path / "old.pth", config=tiny_checkpoints.config)
    new = load_pth(tiny_checkpoints.pth, config=tiny_checkpoints.config)
    for (n1, p1), (n2, p2) in zip(old.state_dict().items(), new.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2)
