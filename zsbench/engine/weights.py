"""Where a case's weights are: ``builtin:<name>`` (weights the project ships or builds itself), or a path.

The pytest plugin and any other caller resolve snapshot ``pretrained`` values here, through the engine's API.
"""

from __future__ import annotations

from pathlib import Path

from zsbench.errors import CheckpointError

BUILTIN = ("zsbench-tiny-shapes", "internvl-tiny-hf")


def builtin_weights(name: str) -> Path:
    """Path of a built-in checkpoint, building it first where it is generated (deterministic, cached).

    ``internvl-tiny-hf`` is a random-weight InternVL-14B-style HF folder with tiny widths and the real 49,954-piece
    vocabulary; it needs the real ``tokenizer.model`` (from ../shared, or ``$ZSBENCH_INTERNVL_TOKENIZER``).
    """
    if name == "zsbench-tiny-shapes":
        from zsbench.models.tiny import tiny_weights_path

        return tiny_weights_path()
    if name == "internvl-tiny-hf":
        import os

        from zsbench.paths import default_cache_dir
        from zsbench.testing.shared import shared_root

        tokenizer = Path(
            os.environ.get("ZSBENCH_INTERNVL_TOKENIZER")
            or shared_root() / "seed_data" / "internvl_tokenizer" / "tokenizer.model"
        )
        if not tokenizer.exists():
            raise CheckpointError(f"missing {tokenizer}: the InternVL tokenizer.model (from InternVL-14B-224px)")
        root = default_cache_dir() / "builtin" / "internvl-tiny-seed0"
        folder = root / "internvl_14b_224px"
        if not (folder / "model.safetensors.index.json").exists():
            from zsbench.testing.internvl_tiny import write_tiny_checkpoints

            write_tiny_checkpoints(root, tokenizer, seed=0)
        return folder
    raise CheckpointError(f"unknown built-in weights {name!r}; valid choices: {', '.join(BUILTIN)}")


def resolve_weights(value: str, pretrained_dir: str | Path) -> Path:
    """``builtin:<name>`` -> the built-in checkpoint; a relative path -> under ``pretrained_dir``; else as given.

    Raises :class:`CheckpointError` when a built-in checkpoint cannot be built here (e.g. no tokenizer file); a
    path is returned whether or not it exists (the caller decides between skipping and failing).
    """
    if value.startswith("builtin:"):
        return builtin_weights(value.removeprefix("builtin:"))
    path = Path(value)
    return path if path.is_absolute() else Path(pretrained_dir) / path
