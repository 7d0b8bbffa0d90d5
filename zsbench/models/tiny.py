"""The embedded default model: a tiny open_clip CLIP trained on the procedural shapes data.

The engine's defaults (zsbench/engine/config.py) import TINY_MODEL_NAME and tiny_weights_path().

Its architecture config ships in ``zsbench/models/configs/`` and its fp16 weights (7.2 MB) inside the package, in
``zsbench/models/weights/zsbench-tiny-shapes/``, so an installed wheel runs ``zsbench eval`` with no repository
checkout (see ``pretrained/README.md`` and ``scripts/train_tiny_clip.py``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

TINY_MODEL_NAME = "zsbench-tiny-shapes"
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
CONFIG_PATH = CONFIG_DIR / f"{TINY_MODEL_NAME}.json"
# Package data, never a path relative to a repository checkout; wheels install as plain files, so this is a real path.
PRETRAINED_DIR = Path(str(resources.files("zsbench.models") / "weights" / TINY_MODEL_NAME))
# open_clip's preferred file name, so ``local-dir:``-style folder lookups find it too.
WEIGHTS_FILE = PRETRAINED_DIR / "open_clip_model.safetensors"
SETTINGS_FILE = PRETRAINED_DIR / "training.json"


def tiny_weights_path() -> Path:
    """The weights file shipped in the package (used by the engine's defaults)."""
    return WEIGHTS_FILE


def register_open_clip_configs() -> None:
    """Make open_clip know zsbench's architecture configs (idempotent, cheap after the first call)."""
    import open_clip

    known = set(open_clip.list_models())
    if any(p.stem not in known for p in CONFIG_DIR.glob("*.json")):
        # Add the files one by one: adding the folder would rescan it on every later add_model_config call too.
        for p in sorted(CONFIG_DIR.glob("*.json")):
            if p.stem not in known:
                open_clip.add_model_config(p)
