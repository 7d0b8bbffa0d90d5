"""Model registry: ``--model_type`` -> loader. One adapter per model family, named for the family
(``open_clip.py``, ``hf.py``, ``internvl/``); each imports torch and its library lazily."""

from __future__ import annotations

from typing import Any

from zsbench._registry import Registry
from zsbench.models.base import (
    PRECISIONS,
    CaptionGenerator,
    ModelIdentity,
    Precision,
    ZeroShotModel,
    resolve_precision,
)

MODEL_TYPES: Registry[Any] = Registry("model type")
MODEL_TYPES.register("open_clip", "zsbench.models.open_clip:load")
MODEL_TYPES.register("hf", "zsbench.models.hf:load", aliases=("huggingface", "transformers"))
MODEL_TYPES.register("internvl", "zsbench.models.internvl:load")


def load_model(
    model_type: str,
    model: str,
    pretrained: str = "",
    device: str | None = None,
    precision: str = "auto",
    cache_dir: str | None = None,
    **options: Any,
) -> ZeroShotModel:
    """Load a model by type, name and weights, in eval mode, on ``device`` (default: CUDA if present, else CPU).

    >>> m = load_model("open_clip", "ViT-B-32", "")  # random weights
    >>> emb = m.encode_text(m.tokenize(["a photo of a cat"]))
    """
    loader = MODEL_TYPES.get(model_type)
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return loader(model, pretrained, device=device, precision=precision, cache_dir=cache_dir, **options)


def caption_refusal(model_type: str, model: str, pretrained: str = "") -> str | None:
    """Why a model cannot generate captions (``--task captioning``), decided before it loads; None when it can or
    when only loading it can tell (then the engine checks the loaded model before encoding anything)."""
    kind = MODEL_TYPES.canonical(model_type)
    if kind == "open_clip":
        from zsbench.models.open_clip import caption_refusal as open_clip_refusal

        return open_clip_refusal(model, pretrained)
    if kind in ("hf", "internvl"):
        return (
            f"--model_type {kind} models are contrastive encoders: captioning needs a generative model, an open_clip "
            "CoCa such as coca_ViT-B-32"
        )
    return None


__all__ = [
    "MODEL_TYPES",
    "PRECISIONS",
    "CaptionGenerator",
    "ModelIdentity",
    "Precision",
    "ZeroShotModel",
    "caption_refusal",
    "load_model",
    "resolve_precision",
]
