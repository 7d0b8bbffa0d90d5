"""The hf adapter on tiny random CLIPModel / SiglipModel folders built offline (see conftest.py)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import zsbench  # noqa: E402
from zsbench.errors import CheckpointError, UnknownNameError  # noqa: E402

TEXTS = ["a photo of a cat", "a red circle", "a small blue dog of a green photo"]


def _reference(folder, family):
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel, SiglipModel

    cls = {"clip": CLIPModel, "siglip": SiglipModel}[family]
    return (
        cls.from_pretrained(folder, local_files_only=True).eval(),
        AutoTokenizer.from_pretrained(folder, local_files_only=True),
        AutoImageProcessor.from_pretrained(folder, local_files_only=True),
    )


def _pooled(out):
    return out if isinstance(out, torch.Tensor) else out.pooler_output


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_hf_embeddings_equal_transformers(family, hf_clip_dir, hf_siglip_dir, test_image):
    from zsbench.models.hf import TorchvisionProcessor

    folder = {"clip": hf_clip_dir, "siglip": hf_siglip_dir}[family]
    m = zsbench.load_model("hf", "anything", str(folder), device="cpu")
    ref, tok, proc = _reference(folder, family)
    assert not m.module.training and m.identity["model_type"] == "hf" and m.identity["extra"]["family"] == family

    # the torchvision reproduction of the processor, not the fallback wrapper, and equal to it
    assert isinstance(m.transform, TorchvisionProcessor)
    expected = proc(images=[test_image], return_tensors="pt")["pixel_values"]
    pix = m.transform(test_image)[None]
    assert pix.shape == expected.shape
    assert (pix - expected).abs().max().item() <= 1e-5

    if family == "siglip":
        enc = tok(TEXTS, padding="max_length", max_length=64, truncation=True, return_tensors="pt")
        ref_inputs = {"input_ids": enc["input_ids"]}
    else:
        enc = tok(TEXTS, padding=True, max_length=77, truncation=True, return_tensors="pt")
        ref_inputs = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    tokens = m.tokenize(TEXTS)
    assert set(tokens) == set(ref_inputs)
    with torch.no_grad():
        want_txt = _pooled(ref.get_text_features(**ref_inputs))
        want_img = _pooled(ref.get_image_features(pixel_values=expected))
    torch.testing.assert_close(m.encode_text(tokens), want_txt, rtol=0, atol=1e-6)
    torch.testing.assert_close(m.encode_image(pix), want_img, rtol=0, atol=1e-6)


def test_padding_per_family(hf_clip_dir, hf_siglip_dir):
    clip = zsbench.load_model("hf", "x", str(hf_clip_dir), device="cpu")
    siglip = zsbench.load_model("hf", "x", str(hf_siglip_dir), device="cpu")
    c = clip.tokenize(["a cat", "a photo of a small red cat"])
    s = siglip.tokenize(["a cat", "a photo of a small red cat"])
    assert c["input_ids"].shape[1] < 77 and "attention_mask" in c  # padded to the longest
    assert s["input_ids"].shape == (2, 64) and "attention_mask" not in s  # padded to max_length 64
    long = clip.tokenize(["cat " * 200])
    assert long["input_ids"].shape[1] == 77  # truncated


def test_hf_precision(hf_clip_dir):
    m = zsbench.load_model("hf", "x", str(hf_clip_dir), device="cpu", precision="bf16")
    assert {p.dtype for p in m.module.parameters()} == {torch.bfloat16}
    assert m.encode_text(m.tokenize(TEXTS)).dtype == torch.float32


def test_hf_errors(tmp_path):
    with pytest.raises(CheckpointError):
        zsbench.load_model("hf", "x", str(tmp_path / "missing"), device="cpu")
    from transformers import BertConfig

    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8).save_pretrained(tmp_path)
    with pytest.raises(UnknownNameError, match="valid choices: clip, siglip"):
        zsbench.load_model("hf", "x", str(tmp_path), device="cpu")
