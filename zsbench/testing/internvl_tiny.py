"""Small random-weight InternVL checkpoints in both real formats, for tests (no reference data needed).

The text vocabulary is the real 49954 pieces so the real ``tokenizer.model`` works; every width is tiny, so
the files are a few MB. Both formats hold the same values (the .pth is the InternVL-C subset, renamed), so
InternVL-C embeddings from the two agree.

>>> ck = write_tiny_checkpoints(tmp_path, tokenizer_model="shared/seed_data/internvl_tokenizer/tokenizer.model")
>>> load("internvl_c_retrieval", str(ck.pth), device="cpu", precision="fp32", config=ck.config)
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from zsbench.models.internvl.checkpoint import internal_to_pth
from zsbench.models.internvl.config import InternVLConfig, TextConfig, VisionConfig, to_hf_config
from zsbench.models.internvl.model import BuildOptions, build_model

REAL_VOCAB = 49954


def tiny_config(*, vocab_size: int = REAL_VOCAB, image_size: int = 56) -> InternVLConfig:
    """Vision width 32, text width 32, 2 blocks each, 4 query tokens, cross-attention in layer 0."""
    return InternVLConfig(
        vision=VisionConfig(
            image_size=image_size, patch_size=14, hidden_size=32, num_heads=2, intermediate_size=64, depth=2
        ),
        text=TextConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=48,
            cross_attention_frequency=2,
        ),
        clip_embed_dim=16,
        attn_pool_num_heads=2,
        num_query_token=4,
    )


def _init_value(name: str, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """The golden data's scheme: nothing zero or constant, so every tensor changes the outputs."""

    def randn(std: float, mean: float = 0.0) -> torch.Tensor:
        return torch.randn(shape, generator=gen) * std + mean

    leaf = name.rsplit(".", 1)[-1]
    if name == "logit_scale":
        return torch.tensor(math.log(1 / 0.07))
    if leaf in ("ls1", "ls2"):
        return randn(0.1, 0.3)
    if leaf in ("class_embedding", "position_embedding"):
        return randn(0.5)
    if name == "query_tokens" or "embed_tokens" in name:
        return randn(1.0)
    if name == "text_projection":
        return randn(1 / math.sqrt(shape[0]))
    if len(shape) == 1 and leaf == "weight":  # RMSNorm / LayerNorm weights
        return randn(0.1, 1.0)
    if len(shape) == 1:  # biases, q_bias/k_bias/v_bias
        return randn(0.1)
    return randn(1 / math.sqrt(math.prod(shape[1:])))


def random_hf_state_dict(config: InternVLConfig, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """Every tensor of an HF-format checkpoint (including the unused ``lm_head``/``itm_head``), float32."""
    meta = build_model(config, BuildOptions(style="hf", query_branch=True, unused_heads=True))
    shapes = {k: tuple(v.shape) for k, v in meta.state_dict().items()}
    gen = torch.Generator().manual_seed(seed)
    return {k: _init_value(k, shapes[k], gen) for k in sorted(shapes)}


def pth_state_dict(hf_state: dict[str, torch.Tensor], config: InternVLConfig) -> dict[str, torch.Tensor]:
    """The .pth subset (what the InternVL-C model holds) under the .pth names."""
    keys = build_model(config, BuildOptions(style="pth", query_branch=False)).state_dict().keys()
    return {internal_to_pth(k): hf_state[k] for k in sorted(keys)}


def write_tiny_pth(
    path: str | os.PathLike[str],
    config: InternVLConfig | None = None,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """A flat state dict with .pth key names, saved with ``torch.save`` (loads with ``weights_only=True``)."""
    cfg = config or tiny_config()
    state = {k: v.to(dtype) for k, v in pth_state_dict(random_hf_state_dict(cfg, seed=seed), cfg).items()}
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, p)
    return p


def write_tiny_hf_folder(
    folder: str | os.PathLike[str],
    tokenizer_model: str | os.PathLike[str] | None,
    config: InternVLConfig | None = None,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """``config.json`` (reference field names), two safetensors shards + ``model.safetensors.index.json``, and a
    copy of ``tokenizer_model`` (skipped when None)."""
    from safetensors.torch import save_file

    cfg = config or tiny_config()
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    state = {k: v.to(dtype).contiguous() for k, v in random_hf_state_dict(cfg, seed=seed).items()}
    # Split in key order at half the bytes, as the HF converter fills shards up to a size.
    sizes = {k: v.numel() * v.element_size() for k, v in state.items()}
    total = sum(sizes.values())
    first: list[str] = []
    for k in state:
        if sum(sizes[n] for n in first) >= total / 2:
            break
        first.append(k)
    second = [k for k in state if k not in first]
    shards = {"model-00001-of-00002.safetensors": first, "model-00002-of-00002.safetensors": second}
    weight_map: dict[str, str] = {}
    for shard, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(root / shard), metadata={"format": "pt"})
        weight_map |= dict.fromkeys(keys, shard)
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (root / "model.safetensors.index.json").write_text(json.dumps(index, indent=4), encoding="utf-8")
    hf_cfg: dict[str, Any] = to_hf_config(cfg) | {"torch_dtype": str(dtype).removeprefix("torch.")}
    (root / "config.json").write_text(json.dumps(hf_cfg, indent=2), encoding="utf-8")
    if tokenizer_model is not None:
        shutil.copyfile(tokenizer_model, root / "tokenizer.model")
    return root


@dataclass(frozen=True)
class TinyCheckpoints:
    pth: Path  # <root>/internvl_c_tiny.pth
    hf_folder: Path  # <root>/internvl_14b_224px/ (also where the .pth adapters find tokenizer.model)
    config: InternVLConfig  # pass as config= when loading the .pth (it has no config of its own)


def write_tiny_checkpoints(
    root: str | os.PathLike[str],
    tokenizer_model: str | os.PathLike[str] | None,
    *,
    config: InternVLConfig | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float16,
) -> TinyCheckpoints:
    """Both formats with the same values, laid out like a real ``pretrained/`` folder."""
    cfg = config or tiny_config()
    base = Path(root)
    pth = write_tiny_pth(base / "internvl_c_tiny.pth", cfg, seed=seed, dtype=dtype)
    hf = write_tiny_hf_folder(base / "internvl_14b_224px", tokenizer_model, cfg, seed=seed, dtype=dtype)
    return TinyCheckpoints(pth=pth, hf_folder=hf, config=cfg)
