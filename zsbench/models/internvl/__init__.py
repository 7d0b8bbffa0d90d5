"""Native InternVL-C / InternVL-G (OpenGVLab InternVL-14B-224px and internvl_c_13b_224px.pth), no remote code.

This module stays torch-free at import (``zsbench.models`` is imported by the CLI's list commands); the model
code lives in the submodules and is imported inside :func:`load`.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any

from zsbench.errors import CheckpointError
from zsbench.models.base import ModelIdentity, ZeroShotModel, resolve_precision, weights_fingerprint
from zsbench.models.internvl.adapters import ADAPTERS, Adapter

# Where the .pth adapters look for tokenizer.model when no ``tokenizer=`` is given: an HF folder beside the
# .pth in the same ``pretrained/`` directory (the .pth itself ships without one).
PTH_TOKENIZER_SIBLINGS = ("internvl_14b_224px", "InternVL-14B-224px")
_TOKENIZER_HELP = (
    "pass tokenizer=PATH/tokenizer.model; the file is in the OpenGVLab/InternVL-14B-224px HF folder and in the "
    "InternVL repository at clip_benchmark/clip_benchmark/models/internvl_c_pytorch/chinese_alpaca_lora_7b/"
)


def find_tokenizer(adapter: Adapter, pretrained: Path, explicit: str | os.PathLike[str] | None) -> Path:
    """The tokenizer.model to use; raises naming every place tried and how to get the file."""
    if explicit is not None:
        p = Path(explicit)
        p = p / "tokenizer.model" if p.is_dir() else p
        if p.is_file():
            return p
        raise CheckpointError(f"tokenizer file not found: {p} (from the tokenizer= option); {_TOKENIZER_HELP}")
    if adapter.format == "hf":
        tried = [pretrained / "tokenizer.model"]
    else:
        tried = [pretrained.parent / name / "tokenizer.model" for name in PTH_TOKENIZER_SIBLINGS]
    for p in tried:
        if p.is_file():
            return p
    places = ["the tokenizer= option (not given)", *(str(p) for p in tried)]
    raise CheckpointError(f"no tokenizer.model for {adapter.name}; tried: {'; '.join(places)}. {_TOKENIZER_HELP}")


# Networks that a live model still uses, by checkpoint and settings; weak, so nothing is kept alive by it.
_NETWORKS: weakref.WeakValueDictionary[tuple[Any, ...], Any] = weakref.WeakValueDictionary()


def load(
    model: str,
    pretrained: str,
    *,
    device: str,
    precision: str,
    cache_dir: str | None = None,
    tokenizer: str | os.PathLike[str] | None = None,
    **options: Any,
) -> ZeroShotModel:
    """Load an InternVL adapter (``model``) from ``pretrained`` (a .pth file or an HF folder).

    Options: ``config`` (an ``InternVLConfig``, dict or HF ``config.json`` path; overrides the .pth's fixed real
    sizes or the folder's config), ``ignore_unexpected`` (glob patterns of extra checkpoint keys to accept).

    >>> m = load("internvl_g_retrieval_hf", "pretrained/InternVL-14B-224px", device="cuda", precision="auto")
    """
    import torch

    from zsbench.models.internvl.checkpoint import load_hf_folder, load_pth
    from zsbench.models.internvl.config import InternVLConfig, load_hf_config, pth_config, resolve_config
    from zsbench.models.internvl.tokenizer import InternVLTokenizer
    from zsbench.models.internvl.transforms import build_transform, describe_transform

    adapter = ADAPTERS.get(model)
    unknown = set(options) - {"config", "ignore_unexpected"}
    if unknown:
        raise CheckpointError(f"unknown option(s) for {adapter.name}: {', '.join(sorted(unknown))}")
    if not pretrained:
        what = "a .pth file" if adapter.format == "pth" else "an HF folder"
        raise CheckpointError(f"{adapter.name} needs pretrained= ({what}); random InternVL weights are not offered")
    prec = resolve_precision(precision, device, gpu_default="fp16")  # the reference casts InternVL to fp16
    path = Path(pretrained)
    ignore = tuple(options.get("ignore_unexpected") or ())
    config: InternVLConfig | None = resolve_config(options.get("config"))
    tok_file = find_tokenizer(adapter, path, tokenizer)
    config = config or (pth_config() if adapter.format == "pth" else load_hf_config(path))
    # *_classification and *_retrieval differ only in the image transform: while one adapter's model is alive,
    # another adapter on the same checkpoint shares its network instead of reading 25 GB again.
    checkpoint_id = weights_fingerprint(path, "file" if adapter.format == "pth" else "folder")
    net_key = (str(path.resolve()), checkpoint_id["sha256"], adapter.format, adapter.mode, repr(config),
               str(prec.weights_dtype), device, ignore)  # fmt: skip
    net = _NETWORKS.get(net_key)
    if net is None:
        if adapter.format == "pth":
            net = load_pth(path, config=config, device=device, dtype=prec.weights_dtype, ignore_unexpected=ignore)
        else:
            net = load_hf_folder(
                path, config=config, mode=adapter.mode, device=device, dtype=prec.weights_dtype,
                ignore_unexpected=ignore,
            )  # fmt: skip
        _NETWORKS[net_key] = net
    tok = InternVLTokenizer(tok_file, padding=adapter.padding, context_length=config.context_length)
    if tok.vocab_size > config.text.vocab_size:
        raise CheckpointError(
            f"tokenizer {tok_file} has {tok.vocab_size} pieces but the text embedding has {config.text.vocab_size} rows"
        )
    mode = adapter.mode

    def image_fn(pixels: torch.Tensor) -> torch.Tensor:
        return net.encode_image(pixels, mode)

    def text_fn(ids: torch.Tensor) -> torch.Tensor:
        return net.encode_text(ids)

    # Precision is not repeated here: the engine puts the model's resolved precision in every cache key itself.
    identity = ModelIdentity(
        model_type="internvl",
        architecture=adapter.name,
        pretrained=pretrained,
        weights=checkpoint_id,
        preprocess=describe_transform(adapter.transform, config.vision.image_size),
        tokenizer=tok.describe(),
        options={"ignore_unexpected": list(ignore)} if ignore else {},
        extra={"format": adapter.format, "mode": mode, "config": config.to_dict()},
    )
    return ZeroShotModel(
        name=model,
        model_type="internvl",
        pretrained=pretrained,
        transform=build_transform(adapter.transform, config.vision.image_size),
        tokenize_fn=tok,
        image_fn=image_fn,
        text_fn=text_fn,
        device=device,
        precision=prec,
        identity=identity,
        module=net,
    )


__all__ = ["ADAPTERS", "Adapter", "find_tokenizer", "load"]
