"""Where zsbench keeps things by default, CLIP_benchmark-style path templates, and a file's SHA-256.

A leaf module (it imports nothing from zsbench but :mod:`zsbench.errors`), so the engine, the dataset registry,
the CLI and the pytest plugin can all share one answer to "where is the cache" and "what does this template
expand to" without importing each other.
"""

from __future__ import annotations

import hashlib
import os
import string
from collections.abc import Iterable
from pathlib import Path

from zsbench.errors import ZsbenchError


def default_cache_dir() -> Path:
    """``$ZSBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/zsbench`` (``~/.cache/zsbench``): never the package folder."""
    env = os.environ.get("ZSBENCH_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zsbench"


def builtin_data_dir() -> Path:
    """Where the built-in procedural datasets (``shapes``, ``shapes_captions``) are generated: ``<cache>/data``."""
    return default_cache_dir() / "data"


def check_template(template: str, flag: str, fields: Iterable[str]) -> None:
    """Refuse a template with an unknown ``{field}``, unbalanced braces or a bad format spec, in one line."""
    allowed = tuple(fields)
    names = ", ".join("{" + f + "}" for f in allowed)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:  # "{dataset" or a lone "}"
        raise ZsbenchError(
            f"{flag} {template!r} is not a valid template ({e}); fields: {names}; write a literal brace as {{{{ or }}}}"
        ) from e
    for _, name, _, _ in parsed:
        if name is not None and name not in allowed:
            raise ZsbenchError(f"{flag} {template!r} uses unknown field {{{name}}}; fields: {names}")
    fill_template(template, flag, **dict.fromkeys(allowed, "x"))  # conversions and format specs ("{dataset!z}")


def fill_template(template: str, flag: str, **fields: str) -> str:
    """``template.format(**fields)``; a failure is one line naming ``flag`` and the fields it may use."""
    try:
        return template.format(**fields)
    except (KeyError, IndexError, AttributeError, ValueError) as e:
        names = ", ".join("{" + f + "}" for f in fields)
        raise ZsbenchError(f"{flag} {template!r} is not a valid template ({e}); fields: {names}") from e


__all__ = ["builtin_data_dir", "check_template", "default_cache_dir", "fill_template"]


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks (checkpoints, downloads and dataset files share this one)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
