"""Image transforms and the tokenizer against the reference's outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from zsbench.errors import CheckpointError
from zsbench.models.internvl import ADAPTERS, find_tokenizer
from zsbench.models.internvl.tokenizer import InternVLTokenizer
from zsbench.models.internvl.transforms import build_transform


@pytest.mark.golden
@pytest.mark.parametrize("kind", ["classification", "retrieval"])
def test_transforms_match_reference(golden_files: Any, kind: str) -> None:
    from PIL import Image

    pre = golden_files.tensors("tiny_preprocess.safetensors")
    tf = build_transform(kind, 56)
    got = torch.stack([tf(Image.fromarray(pre[f"raw_image_{i}"].numpy())) for i in range(3)])
    torch.testing.assert_close(got, pre[f"pixel_values_{kind}"], atol=1e-6, rtol=0)


def test_transform_converts_to_rgb_and_squashes() -> None:
    from PIL import Image

    img = Image.new("L", (90, 30), 128)
    assert build_transform("retrieval", 28)(img).shape == (3, 28, 28)
    assert build_transform("classification", 28)(img).shape == (3, 28, 28)
    with pytest.raises(ValueError, match="classification"):
        build_transform("crop", 28)


@pytest.fixture(scope="module")
def golden_tok(golden_files: Any) -> dict[str, Any]:
    return json.loads(golden_files.path("tokenizer_golden.json").read_text(encoding="utf-8"))


@pytest.mark.golden
def test_tokenizer_cases(golden_tok: dict[str, Any], tokenizer_model: Path) -> None:
    tok = InternVLTokenizer(tokenizer_model)
    assert tok.vocab_size == golden_tok["vocab_size"]
    for case in golden_tok["cases"]:
        assert tok.encode(case["text"]) == case["ids_unpadded"], case["text"]


@pytest.mark.golden
def test_tokenizer_batch_wrappers(golden_tok: dict[str, Any], tokenizer_model: Path) -> None:
    longest = InternVLTokenizer(tokenizer_model, padding="longest")
    fixed = InternVLTokenizer(tokenizer_model, padding="max_length")
    texts = golden_tok["batch_texts"]
    assert longest(texts).tolist() == golden_tok["batch_ids_pth_wrapper"]
    assert fixed(texts).tolist() == golden_tok["batch_ids_hf_wrapper"]
    first = golden_tok["cases"][0]["text"]
    assert fixed([first]).tolist() == golden_tok["single_string_ids_hf_wrapper"]
    short = longest(texts[:2])  # "longest" really pads to the batch's longest row, not to 80
    assert short.shape == (2, max(len(c["ids_unpadded"]) for c in golden_tok["cases"][:2]))
    assert short.dtype == torch.long


def test_pth_tokenizer_not_found_names_both_places(tmp_path: Path) -> None:
    pth = tmp_path / "pretrained" / "internvl_c_13b_224px.pth"
    pth.parent.mkdir()
    pth.write_bytes(b"")
    with pytest.raises(CheckpointError) as err:
        find_tokenizer(ADAPTERS.get("internvl_c_retrieval"), pth, None)
    msg = str(err.value)
    assert "tokenizer= option" in msg
    assert str(tmp_path / "pretrained" / "internvl_14b_224px" / "tokenizer.model") in msg
    assert "InternVL-14B-224px" in msg  # how to get the file


def test_tokenizer_found_beside_pth_or_explicit(tmp_path: Path) -> None:
    pth = tmp_path / "internvl_c_13b_224px.pth"
    sibling = tmp_path / "internvl_14b_224px" / "tokenizer.model"
    sibling.parent.mkdir()
    sibling.write_bytes(b"x")
    assert find_tokenizer(ADAPTERS.get("internvl_c_classification"), pth, None) == sibling
    other = tmp_path / "elsewhere.model"
    other.write_bytes(b"y")
    assert find_tokenizer(ADAPTERS.get("internvl_c_classification"), pth, other) == other
    with pytest.raises(CheckpointError, match="missing.model"):
        find_tokenizer(ADAPTERS.get("internvl_g_retrieval_hf"), tmp_path, tmp_path / "missing.model")
    with pytest.raises(CheckpointError, match=str(tmp_path / "tokenizer.model")):
        find_tokenizer(ADAPTERS.get("internvl_g_retrieval_hf"), tmp_path, None)
