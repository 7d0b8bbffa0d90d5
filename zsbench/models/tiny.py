"""The embedded default model: a tiny CLIP the project trains itself (scripts/train_tiny_clip.py).

The engine's defaults (zsbench/engine/config.py) import TINY_MODEL_NAME and tiny_weights_path(); keep these two
names when filling in the rest of this module.
"""

from __future__ import annotations

from pathlib import Path

TINY_MODEL_NAME = "zsbench-tiny-shapes"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def tiny_weights_path() -> Path:
    """The committed weights file under ``pretrained/zsbench-tiny-shapes/``."""
    return _REPO_ROOT / "pretrained" / "zsbench-tiny-shapes" / "open_clip_model.safetensors"
