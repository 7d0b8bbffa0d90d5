"""Strict, memory-lean loaders for the two InternVL checkpoint formats (no remote code, no transformers).

The model is built on the meta device; each stored tensor is read on its own, cast to the target dtype,
moved to the target device and assigned in place of the meta parameter. So the peak host memory stays
near one copy of the weights in the target dtype (plus one tensor in flight), whatever the stored dtype.
Key names are checked first, against the file's own naming, and any mismatch raises a
:class:`~zsbench.errors.CheckpointError` that names the keys.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zsbench.errors import CheckpointError
from zsbench.models.checkpoints import (
    as_state_dict,
    check_keys,
    check_safetensors_shards,
    first_line,
    is_safetensors,
    is_zip,
    listing,
    load_torch_file,
    safetensors_header,
    shard_index,
)
from zsbench.models.internvl.config import InternVLConfig, load_hf_config
from zsbench.models.internvl.model import BuildOptions, InternVLModel, build_model

log = logging.getLogger(__name__)

# Keys of the HF checkpoint that no embedding uses: always allowed (and skipped without reading).
HF_UNUSED_KEYS = ("qllama.lm_head.weight", "itm_head.*")
# Keys only the InternVL-G image path needs: allowed (and skipped) when the model is built for C only.
HF_G_ONLY_KEYS = ("query_tokens", "clip_projector2.*", "qllama.model.layers.*.cross_attn.*")


# -- .pth <-> internal (HF) names ------------------------------------------------------------------------
_PTH_TO_HF = (
    (re.compile(r"^cls_token$"), "vision_model.embeddings.class_embedding"),
    (re.compile(r"^pos_embed$"), "vision_model.embeddings.position_embedding"),
    (re.compile(r"^patch_embed\.proj\.(.+)$"), r"vision_model.embeddings.patch_embedding.\1"),
    (re.compile(r"^blocks\.(\d+)\.(ls[12])\.gamma$"), r"vision_model.encoder.layers.\1.\2"),
    (re.compile(r"^blocks\.(\d+)\.(.+)$"), r"vision_model.encoder.layers.\1.\2"),
    (re.compile(r"^transformer\.(.+)$"), r"qllama.model.\1"),
)
_HF_TO_PTH = (
    (re.compile(r"^vision_model\.embeddings\.class_embedding$"), "cls_token"),
    (re.compile(r"^vision_model\.embeddings\.position_embedding$"), "pos_embed"),
    (re.compile(r"^vision_model\.embeddings\.patch_embedding\.(.+)$"), r"patch_embed.proj.\1"),
    (re.compile(r"^vision_model\.encoder\.layers\.(\d+)\.(ls[12])$"), r"blocks.\1.\2.gamma"),
    (re.compile(r"^vision_model\.encoder\.layers\.(\d+)\.(.+)$"), r"blocks.\1.\2"),
    (re.compile(r"^qllama\.model\.(.+)$"), r"transformer.\1"),
)


def _rename(name: str, table: tuple[tuple[re.Pattern[str], str], ...]) -> str:
    for pattern, repl in table:
        if pattern.match(name):
            return pattern.sub(repl, name)
    return name


def pth_to_internal(name: str) -> str:
    """``blocks.3.ls1.gamma`` -> ``vision_model.encoder.layers.3.ls1`` (notes section 9)."""
    return _rename(name, _PTH_TO_HF)


def internal_to_pth(name: str) -> str:
    return _rename(name, _HF_TO_PTH)


def internal_to_hf(name: str) -> str:
    return name


def expected_shapes(model: nn.Module, to_file_name: Callable[[str], str]) -> dict[str, tuple[int, ...]]:
    """The model's state-dict entries under the checkpoint's names, with shapes (works on meta)."""
    return {to_file_name(k): tuple(v.shape) for k, v in model.state_dict().items()}


# -- key checking (shared with the other adapters: zsbench.models.checkpoints) ----------------------------------
_listing = listing


# -- materialisation -------------------------------------------------------------------------------------
def _assign(model: nn.Module, name: str, tensor: torch.Tensor) -> None:
    module_path, _, attr = name.rpartition(".")
    module = model.get_submodule(module_path) if module_path else model
    if attr in module._parameters:
        module._parameters[attr] = nn.Parameter(tensor, requires_grad=False)
    elif attr in module._buffers:
        module._buffers[attr] = tensor
    else:  # cannot happen after check_keys; kept as a guard against a renaming bug
        raise CheckpointError(f"internal error: {name} is not a parameter or buffer of the model")


def materialize(
    model: InternVLModel,
    tensors: Iterator[tuple[str, torch.Tensor]],
    *,
    device: torch.device | str,
    dtype: torch.dtype,
) -> None:
    """Assign each (internal name, tensor) as it arrives, cast and moved; then compute non-persistent buffers."""
    for name, tensor in tensors:
        target = dtype if tensor.is_floating_point() else tensor.dtype
        _assign(model, name, tensor.to(device=device, dtype=target))
    left = [n for n, p in model.named_parameters() if p.is_meta]
    if left:
        raise CheckpointError(f"internal error: parameters not loaded: {_listing(left)}")
    model.init_non_persistent_buffers(device)
    model.eval().requires_grad_(False)


# -- .pth ------------------------------------------------------------------------------------------------
def load_pth(
    path: str | os.PathLike[str],
    *,
    config: InternVLConfig,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    ignore_unexpected: Iterable[str] = (),
) -> InternVLModel:
    """Load ``internvl_c_13b_224px.pth`` (a flat state dict, fp16/bf16/fp32) into an InternVL-C model."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"InternVL .pth checkpoint not found: {p}")
    if is_safetensors(p):
        raise CheckpointError(f"{p} is a safetensors file; the .pth adapters read torch.save files (use an HF folder)")
    # weights_only: no pickle code ever runs; mmap (zip format only): tensors stay on disk until each one is cast.
    if not is_zip(p):  # info, not warning: a refused file must leave exactly one line on stderr
        log.info("%s cannot be memory-mapped (old torch.save format); reading it whole into memory", p)
    state = as_state_dict(load_torch_file(p, mmap=True), p)
    model = build_model(config, BuildOptions(style="pth", query_branch=False))
    expected = expected_shapes(model, internal_to_pth)
    found = {k: tuple(v.shape) for k, v in state.items()}
    keys = check_keys(found, expected, source=str(p), what="InternVL-C (.pth)", allow_unexpected=ignore_unexpected)

    def stream() -> Iterator[tuple[str, torch.Tensor]]:
        for k in keys:
            # pop: once cast, the mmap'd original is no longer referenced. A same-dtype CPU load keeps the
            # (private, file-backed) mapping itself, which costs no extra anonymous memory.
            yield pth_to_internal(k), state.pop(k)

    materialize(model, stream(), device=device, dtype=dtype)
    state.clear()
    return model


# -- HF folder -------------------------------------------------------------------------------------------
def hf_weight_files(folder: Path) -> dict[str, Path]:
    """Tensor name -> shard file, from ``model.safetensors.index.json`` or a single ``model.safetensors``.

    Every shard's header is checked against its size (a truncated or garbage shard is refused here, before the
    model is built), and every tensor the index names must be in its shard.
    """
    index = folder / "model.safetensors.index.json"
    single = folder / "model.safetensors"
    if index.is_file():
        files = shard_index(index)
        check_safetensors_shards(files, index)
        return files
    if single.is_file():
        return dict.fromkeys(safetensors_header(single), single)
    raise CheckpointError(
        f"{folder} has neither model.safetensors.index.json nor model.safetensors "
        "(only safetensors HF folders are supported; the older pytorch_model-*.bin shards are not read: "
        "convert them with transformers' save_pretrained(safe_serialization=True))"
    )


def load_hf_folder(
    folder: str | os.PathLike[str],
    *,
    config: InternVLConfig | None = None,
    mode: str = "InternVL-G",
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    ignore_unexpected: Iterable[str] = (),
) -> InternVLModel:
    """Load an ``InternVL-14B-224px``-style folder. ``mode="InternVL-C"`` skips the query branch's weights."""
    from safetensors import safe_open

    root = Path(folder)
    if not root.is_dir():
        raise CheckpointError(f"InternVL HF folder not found: {root}")
    cfg = config if config is not None else load_hf_config(root)
    files = hf_weight_files(root)
    with_g = mode == "InternVL-G"
    model = build_model(cfg, BuildOptions(style="hf", query_branch=with_g))
    expected = expected_shapes(model, internal_to_hf)
    allow = (*HF_UNUSED_KEYS, *(() if with_g else HF_G_ONLY_KEYS), *ignore_unexpected)

    by_shard: dict[Path, list[str]] = {}
    for name, shard in files.items():
        by_shard.setdefault(shard, []).append(name)
    found: dict[str, tuple[int, ...]] = {}
    for shard, names in by_shard.items():  # headers only (hf_weight_files checked them against the files)
        header = safetensors_header(shard)
        found.update({name: header[name][1] for name in names})
    keys = set(check_keys(found, expected, source=str(root), what=f"{mode} (HF folder)", allow_unexpected=allow))

    def stream() -> Iterator[tuple[str, torch.Tensor]]:
        for shard, names in by_shard.items():  # one shard open at a time, one tensor read at a time
            with safe_open(str(shard), framework="pt") as f:
                for name in names:
                    if name in keys:
                        yield name, _read_tensor(f, name, shard)

    materialize(model, stream(), device=device, dtype=dtype)
    return model


def _read_tensor(f: Any, name: str, shard: Path) -> torch.Tensor:
    try:
        return f.get_tensor(name)
    except Exception as e:  # the header was valid, so the data itself is damaged
        raise CheckpointError(f"cannot read {name} from {shard}: {first_line(e)}; re-download the shard") from e


def describe_dtypes(model: nn.Module) -> dict[str, Any]:
    """Parameter count per dtype (for logs and tests)."""
    out: dict[str, int] = {}
    for p in model.parameters():
        out[str(p.dtype)] = out.get(str(p.dtype), 0) + p.numel()
    return out
