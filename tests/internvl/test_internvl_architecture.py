"""Full-size models built on the meta device have exactly the checkpoints' tensor names and shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from zsbench.models.internvl.checkpoint import HF_G_ONLY_KEYS, HF_UNUSED_KEYS, expected_shapes, internal_to_pth
from zsbench.models.internvl.config import InternVLConfig, from_hf_config, pth_config, to_hf_config
from zsbench.models.internvl.model import BuildOptions, build_model

pytestmark = pytest.mark.golden


def _manifest(golden_files: Any, name: str) -> dict[str, tuple[int, ...]]:
    data = json.loads(golden_files.path(name).read_text())
    shapes = {t["name"]: tuple(t["shape"]) for t in data["tensors"]}
    assert len(shapes) == data["num_tensors"] == len(data["tensors"])  # no duplicate names in the manifest
    assert sum(t["numel"] for t in data["tensors"]) == data["total_numel"]
    return shapes


def _diff(got: dict[str, tuple[int, ...]], want: dict[str, tuple[int, ...]]) -> str:
    missing = sorted(set(want) - set(got))[:5]
    extra = sorted(set(got) - set(want))[:5]
    shapes = [(k, got[k], want[k]) for k in sorted(set(got) & set(want)) if got[k] != want[k]][:5]
    return f"missing {missing}, extra {extra}, shapes {shapes}"


def test_pth_model_matches_c13b_manifest(golden_files: Any) -> None:
    want = _manifest(golden_files, "manifest_internvl_c_13b.json")
    model = build_model(pth_config(), BuildOptions(style="pth", query_branch=False))
    got = expected_shapes(model, internal_to_pth)
    assert got == want, _diff(got, want)
    assert sum(p.numel() for p in model.parameters()) == 12_620_029_697


def test_hf_model_matches_14b_manifest(golden_files: Any) -> None:
    want = _manifest(golden_files, "manifest_internvl_14b_hf.json")
    model = build_model(InternVLConfig(), BuildOptions(style="hf", query_branch=True, unused_heads=True))
    got = expected_shapes(model, lambda k: k)
    assert got == want, _diff(got, want)
    assert sum(p.numel() for p in model.parameters()) == 13_834_975_747


def test_hf_c_mode_skips_exactly_the_allow_listed_keys(golden_files: Any) -> None:
    import fnmatch

    want = _manifest(golden_files, "manifest_internvl_14b_hf.json")
    got = expected_shapes(build_model(InternVLConfig(), BuildOptions(query_branch=False)), lambda k: k)
    skipped = set(want) - set(got)
    assert set(got) <= set(want)
    patterns = HF_UNUSED_KEYS + HF_G_ONLY_KEYS
    assert all(any(fnmatch.fnmatchcase(k, p) for p in patterns) for k in skipped)
    assert not any(fnmatch.fnmatchcase(k, p) for k in got for p in patterns)


def test_real_config_values(golden_files: Any) -> None:
    real = json.loads(golden_files.path("tiny_config.json").read_text())["real"]
    cfg = pth_config()
    v, t = cfg.vision, cfg.text
    assert (v.image_size, v.patch_size, v.hidden_size, v.num_heads, v.intermediate_size, v.depth) == (
        real["vision"]["image_size"],
        real["vision"]["patch_size"],
        real["vision"]["hidden_size"],
        real["vision"]["num_heads"],
        real["vision"]["mlp_hidden_size"],
        real["vision"]["depth"],
    )
    assert (t.vocab_size, t.hidden_size, t.num_layers, t.num_heads, t.intermediate_size) == (
        real["text"]["vocab_size"],
        real["text"]["hidden_size"],
        real["text"]["num_layers"],
        real["text"]["num_heads"],
        real["text"]["intermediate_size"],
    )
    assert cfg.num_query_token == real["qllama_query_branch"]["num_query_tokens"]
    assert cfg.attn_pool_num_heads == real["clip_projector"]["num_heads"] == real["clip_projector2"]["num_heads"]
    assert cfg.clip_embed_dim == real["clip_embed_dim"]


def test_hf_config_fields_and_round_trip(golden_files: Any) -> None:
    tiny = json.loads(golden_files.path("tiny_hf_folder/config.json").read_text())
    cfg = from_hf_config(tiny)
    assert (cfg.vision.hidden_size, cfg.vision.num_heads, cfg.vision.depth, cfg.vision.image_size) == (64, 4, 3, 56)
    assert (cfg.text.vocab_size, cfg.text.hidden_size, cfg.text.num_layers, cfg.text.intermediate_size) == (
        512,
        96,
        4,
        160,
    )
    assert (cfg.num_query_token, cfg.attn_pool_num_heads, cfg.clip_embed_dim) == (8, 4, 32)
    assert from_hf_config(to_hf_config(cfg)) == cfg
    assert from_hf_config(to_hf_config(pth_config())) == pth_config()


def test_sizes_come_from_the_config() -> None:
    # Nothing assumes 3200 or 96: odd sizes build and run end to end.
    import torch

    from zsbench.models.internvl.config import TextConfig, VisionConfig

    cfg = InternVLConfig(
        vision=VisionConfig(image_size=42, patch_size=14, hidden_size=24, num_heads=3, intermediate_size=40, depth=1),
        text=TextConfig(
            vocab_size=50, hidden_size=20, num_layers=3, num_heads=2, intermediate_size=30, cross_attention_frequency=3
        ),
        clip_embed_dim=6,
        attn_pool_num_heads=2,
        num_query_token=5,
    )
    model = build_model(cfg, device="cpu")
    assert model.qllama.model.layers[0].cross_attn.k_proj.in_features == 24
    assert [i for i, layer in enumerate(model.qllama.model.layers) if layer.cross_attn is not None] == [0]
    with torch.no_grad():
        torch.nn.init.normal_(model.query_tokens)
        vision = model.vision_hidden_states(torch.randn(2, 3, 42, 42))
        assert vision.shape == (2, 10, 24)
        assert model.query_hidden_states(vision).shape == (2, 5, 20)
        assert model.encode_image(torch.randn(2, 3, 42, 42), "InternVL-G").shape == (2, 6)
        assert model.encode_text(torch.tensor([[1, 7, 2, 0], [1, 9, 8, 2]])).shape == (2, 6)
