"""A fake model and in-memory datasets for engine tests: fast, deterministic, and counting every call."""

from __future__ import annotations

import hashlib
from typing import Any

from zsbench.datasets import DATASETS, ClassificationData, DatasetSpec, RetrievalData, register_dataset
from zsbench.datasets.base import ArrayImageSet
from zsbench.models import MODEL_TYPES
from zsbench.models.base import ZeroShotModel, resolve_precision

CALLS = {"image_batches": 0, "images": 0, "text_batches": 0, "texts": 0}
DIM = 8


def _text_vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255.0 - 0.5 for b in digest[:DIM]]


def load_fake(model: str, pretrained: str, *, device: str, precision: str, cache_dir: Any = None, **_: Any):
    """Image embedding = mean colour projected to DIM dims; text embedding = a hash of the text."""
    import torch

    proj = torch.Generator().manual_seed(0)
    w = torch.randn(3, DIM, generator=proj)

    def transform(img: Any) -> Any:
        import numpy as np

        return torch.from_numpy(np.asarray(img, dtype="float32") / 255.0).permute(2, 0, 1)

    def image_fn(pixels: Any) -> Any:
        CALLS["image_batches"] += 1
        CALLS["images"] += pixels.shape[0]
        return pixels.mean(dim=(2, 3)) @ w

    def text_fn(tokens: Any) -> Any:
        CALLS["text_batches"] += 1
        CALLS["texts"] += tokens.shape[0]
        return tokens

    def tokenize(texts: list[str]) -> Any:
        return torch.tensor([_text_vector(t) for t in texts])

    return ZeroShotModel(
        name=model,
        model_type="fake",
        pretrained=pretrained,
        transform=transform,
        tokenize_fn=tokenize,
        image_fn=image_fn,
        text_fn=text_fn,
        device=device,
        precision=resolve_precision(precision, device),
        identity={"fake": model, "pretrained": pretrained},
    )


def _images(n: int, seed: int) -> ArrayImageSet:
    import numpy as np

    rng = np.random.default_rng(seed)
    colors = rng.integers(0, 256, size=(n, 1, 1, 3), dtype=np.uint8)
    arrays = np.broadcast_to(colors, (n, 8, 8, 3)).copy()
    return ArrayImageSet(arrays, key_prefix=f"fake{seed}", source_digest=str(seed))


def load_fake_classification(root: Any, *, split: str, language: str, spec: DatasetSpec, **_: Any):
    names = {"en": ["red", "green", "blue"], "cn": ["红", "绿", "蓝"], "jp": ["赤", "緑", "青"]}
    if language not in names:
        from zsbench.errors import UnknownNameError

        raise UnknownNameError(f"fake_cls has no prompts in {language!r}; languages: en, cn, jp")
    images = _images(30, seed=1)
    targets = [i % 3 for i in range(30)]
    return ClassificationData(images, targets, names[language], ["a photo of {c}.", "{c}"])


def load_fake_retrieval(root: Any, *, split: str, language: str, spec: DatasetSpec, **_: Any):
    images = _images(12, seed=2)
    captions = [[f"image {i} caption {j} {language}" for j in range(2)] for i in range(12)]
    return RetrievalData(images, captions)


def register() -> None:
    """Register the fake model type and datasets (idempotent)."""
    if "fake" not in MODEL_TYPES:
        MODEL_TYPES.register("fake", load_fake)
    from zsbench.datasets import list_datasets

    list_datasets()  # load the real catalog first, so registering here cannot shadow it
    if "fake_cls" not in DATASETS:
        register_dataset(DatasetSpec("fake_cls", "zeroshot_classification", f"{__name__}:load_fake_classification",
                                     languages=("en", "cn", "jp"), sizes={"test": 30}))  # fmt: skip
        register_dataset(DatasetSpec("fake_ret", "zeroshot_retrieval", f"{__name__}:load_fake_retrieval",
                                     sizes={"test": 12}))  # fmt: skip
