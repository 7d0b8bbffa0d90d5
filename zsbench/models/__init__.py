"""Model registry: ``--model_type`` -> loader. One adapter per model family, named for the family
(``open_clip.py``, ``hf.py``, ``internvl/``); each imports torch and its library lazily."""

from __future__ import annotations

from typing import Any

from zsbench._registry import Registry
from zsbench.models.base import PRECISIONS, ModelIdentity, Precision, ZeroShotModel, resolve_precision

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


__all__ = [
    "MODEL_TYPES",
    "PRECISIONS",
    "ModelIdentity",
    "Precision",
    "ZeroShotModel",
    "load_model",
    "resolve_precision",
]
