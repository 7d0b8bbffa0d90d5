"""Both checkpoint formats against every tensor the reference InternVL code produced on the tiny model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from zsbench.models.internvl.checkpoint import load_hf_folder, load_pth
from zsbench.models.internvl.config import load_hf_config
from zsbench.models.internvl.model import l2n

pytestmark = pytest.mark.golden
ATOL = 1e-5


@pytest.fixture(scope="module")
def golden(golden_files: Any) -> dict[str, Any]:
    inputs = golden_files.tensors("tiny_inputs.safetensors")
    folder = golden_files.path("tiny_hf_folder")
    config = load_hf_config(folder)  # the .pth has no config; the same tiny sizes
    return {
        "inputs": inputs,
        "pre": golden_files.tensors("tiny_preprocess.safetensors"),
        "out": golden_files.tensors("tiny_outputs.safetensors"),
        "hf": load_hf_folder(folder, mode="InternVL-G"),
        "hf_c": load_hf_folder(folder, mode="InternVL-C"),
        "pth": load_pth(golden_files.path("tiny_internvl_c.pth"), config=config),
    }


def _scores(text: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return l2n(text) @ l2n(image).T


# Each golden tensor, recomputed from our models (g = the fixture dict). Keys must cover the whole file.
COMPUTE: dict[str, Callable[[dict[str, Any]], torch.Tensor]] = {
    "vision_last_hidden_state": lambda g: g["hf"].vision_hidden_states(g["inputs"]["pixel_values"]),
    "qllama_query_last_hidden_state": lambda g: g["hf"].query_hidden_states(
        g["hf"].vision_hidden_states(g["inputs"]["pixel_values"])
    ),
    "text_last_hidden_state": lambda g: g["hf"].text_hidden_states(g["inputs"]["input_ids"]),
    "text_eos_hidden": lambda g: g["hf"].text_hidden_states(g["inputs"]["input_ids"])[
        torch.arange(4), (g["inputs"]["input_ids"] > 0).sum(1) - 1
    ],
    "c_image_embeds": lambda g: g["hf_c"].encode_image(g["inputs"]["pixel_values"], "InternVL-C"),
    "c_image_embeds_normalized": lambda g: l2n(g["hf"].encode_image(g["inputs"]["pixel_values"], "InternVL-C")),
    "text_embeds": lambda g: g["hf"].encode_text(g["inputs"]["input_ids"]),
    "text_embeds_normalized": lambda g: l2n(g["hf_c"].encode_text(g["inputs"]["input_ids_pad80"])),
    "g_backbone_embeds": lambda g: g["hf"].clip_projector(g["hf"].vision_hidden_states(g["inputs"]["pixel_values"])),
    "g_query_embeds": lambda g: g["hf"].clip_projector2(
        g["hf"].query_hidden_states(g["hf"].vision_hidden_states(g["inputs"]["pixel_values"]))
    ),
    "g_image_embeds": lambda g: g["hf"].encode_image(g["inputs"]["pixel_values"], "InternVL-G"),
    "g_image_embeds_normalized": lambda g: l2n(g["hf"].encode_image(g["inputs"]["pixel_values"], "InternVL-G")),
    "logit_scale": lambda g: g["hf"].logit_scale,
    "logit_scale_exp": lambda g: g["pth"].logit_scale.exp(),
    "c_logits_per_image": lambda g: g["hf"](g["inputs"]["pixel_values"], g["inputs"]["input_ids"], "InternVL-C")[0],
    "g_logits_per_image": lambda g: g["hf"](g["inputs"]["pixel_values"], g["inputs"]["input_ids"], "InternVL-G")[0],
    "c_classification_logits": lambda g: (
        100 * _scores(g["hf"].encode_image(g["inputs"]["pixel_values"]), g["hf"].encode_text(g["inputs"]["input_ids"]))
    ),
    "c_retrieval_scores": lambda g: _scores(
        g["hf_c"].encode_text(g["inputs"]["input_ids"]), g["hf_c"].encode_image(g["inputs"]["pixel_values"])
    ),
    "g_retrieval_scores": lambda g: _scores(
        g["hf"].encode_text(g["inputs"]["input_ids_pad80"]),
        g["hf"].encode_image(g["inputs"]["pixel_values"], "InternVL-G"),
    ),
    "pth_vision_features": lambda g: g["pth"].vision_hidden_states(g["inputs"]["pixel_values"]),
    "pth_c_image_embeds": lambda g: g["pth"].encode_image(g["inputs"]["pixel_values"]),
    "pth_text_embeds": lambda g: g["pth"].encode_text(g["inputs"]["input_ids"]),
    "c_image_embeds_from_retrieval_pixels": lambda g: g["hf_c"].encode_image(g["pre"]["pixel_values_retrieval"]),
    "g_image_embeds_from_retrieval_pixels": lambda g: g["hf"].encode_image(
        g["pre"]["pixel_values_retrieval"], "InternVL-G"
    ),
}
SCALED = {"c_classification_logits": 100.0, "c_logits_per_image": 33.115, "g_logits_per_image": 33.115}

# The C-mode tensors again, from the .pth model (the two formats hold the same values).
PTH_ALSO = {
    "vision_last_hidden_state": lambda g: g["pth"].vision_hidden_states(g["inputs"]["pixel_values"]),
    "c_image_embeds": lambda g: g["pth"].encode_image(g["inputs"]["pixel_values"]),
    "text_embeds": lambda g: g["pth"].encode_text(g["inputs"]["input_ids_pad80"]),
    "text_last_hidden_state": lambda g: g["pth"].text_hidden_states(g["inputs"]["input_ids"]),
    "c_image_embeds_from_retrieval_pixels": lambda g: g["pth"].encode_image(g["pre"]["pixel_values_retrieval"]),
}


def test_every_golden_tensor_is_checked(golden_files: Any) -> None:
    names = set(golden_files.tensors("tiny_outputs.safetensors"))
    assert names == set(COMPUTE), f"unchecked: {names - set(COMPUTE)}; unknown: {set(COMPUTE) - names}"


@pytest.mark.parametrize("name", sorted(COMPUTE))
def test_hf_and_pth_match_reference(golden: dict[str, Any], name: str) -> None:
    with torch.no_grad():
        got = COMPUTE[name](golden)
    want = golden["out"][name]
    assert got.shape == want.shape and got.dtype == torch.float32
    # Logits are cosines times 100 (or exp(logit_scale)); the 1e-5 budget is for the cosines.
    scale = SCALED.get(name, 1.0)
    torch.testing.assert_close(got / scale, want / scale, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", sorted(PTH_ALSO))
def test_pth_matches_reference(golden: dict[str, Any], name: str) -> None:
    with torch.no_grad():
        got = PTH_ALSO[name](golden)
    torch.testing.assert_close(got, golden["out"][name], atol=ATOL, rtol=0)


def test_g_embedding_is_sum_of_unit_vectors(golden: dict[str, Any]) -> None:
    with torch.no_grad():
        norms = golden["hf"].encode_image(golden["inputs"]["pixel_values"], "InternVL-G").norm(dim=1)
    assert bool(((norms > 1.0) & (norms < 2.0)).all()), norms


def test_padding_length_does_not_change_text(golden: dict[str, Any]) -> None:
    ids, ids80 = golden["inputs"]["input_ids"], golden["inputs"]["input_ids_pad80"]
    with torch.no_grad():
        for key in ("hf", "pth"):
            torch.testing.assert_close(golden[key].encode_text(ids), golden[key].encode_text(ids80), atol=1e-6, rtol=0)
