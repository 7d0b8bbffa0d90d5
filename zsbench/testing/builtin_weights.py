"""Weights the project ships or builds itself, named ``builtin:<name>`` in snapshot files."""

from __future__ import annotations

from pathlib import Path

from zsbench.errors import CheckpointError


def builtin_weights(name: str) -> Path:
    """Path of a built-in checkpoint, building it first where it is generated (deterministic, cached)."""
    if name == "zsbench-tiny-shapes":
        from zsbench.models.tiny import tiny_weights_path

        return tiny_weights_path()
    raise CheckpointError(f"unknown built-in weights {name!r}; valid choices: zsbench-tiny-shapes")
