"""Image preprocessing of the InternVL clip_benchmark adapters (notes section 7): torchvision on PIL."""

from __future__ import annotations

from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
KINDS = ("classification", "retrieval")


def _to_rgb(image: Any) -> Any:
    # A module-level function (not a lambda) so the transform pickles into DataLoader workers.
    return image if image.mode == "RGB" else image.convert("RGB")


def build_transform(kind: str, image_size: int) -> Any:
    """``classification``: shorter side to ``image_size`` then center crop; ``retrieval``: squash to a square.
    Both bicubic (PIL, antialiased), then ImageNet mean/std."""
    from torchvision import transforms as T

    if kind == "classification":
        resize = [
            T.Resize(image_size, interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(image_size),
        ]
    elif kind == "retrieval":
        resize = [T.Resize((image_size, image_size), interpolation=T.InterpolationMode.BICUBIC)]
    else:
        raise ValueError(f"transform kind must be one of {KINDS}, not {kind!r}")
    return T.Compose([T.Lambda(_to_rgb), *resize, T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def describe_transform(kind: str, image_size: int) -> dict[str, Any]:
    """Facts that determine the pixels, for the model identity."""
    resize = (
        f"Resize({image_size}, shorter side) + CenterCrop({image_size})"
        if kind == "classification"
        else f"Resize(({image_size}, {image_size})) squash"
    )
    return {
        "kind": kind,
        "image_size": image_size,
        "steps": f"RGB, {resize}, bicubic (PIL), ToTensor, Normalize",
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
    }
