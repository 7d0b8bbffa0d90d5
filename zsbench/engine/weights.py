"""Where a case's weights are: ``builtin:<name>`` (weights the project ships or builds itself), a path, or (for
``open_clip`` cases) one of open_clip's pretrained tags (``openai``, ``laion2b_s34b_b79k``), which open_clip
downloads into the Hugging Face hub cache instead of reading a file under the weights folder.

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


def resolve_weights(
    value: str, pretrained_dir: str | Path, *, model_type: str | None = None, model: str | None = None
) -> Path | str:
    """``builtin:<name>`` -> the built-in checkpoint; a relative path -> under ``pretrained_dir``; else as given.

    With ``model_type="open_clip"`` and ``model``, a value that is one of open_clip's pretrained tags for that model
    (and not a file or folder under ``pretrained_dir``) is returned as the tag itself, a ``str``: open_clip
    downloads it (:func:`open_clip_tag_weights`); joined to the weights folder it would be a missing file.

    Raises :class:`CheckpointError` when a built-in checkpoint cannot be built here (e.g. no tokenizer file); a
    path is returned whether or not it exists (the caller decides between skipping and failing).
    """
    if value.startswith("builtin:"):
        return builtin_weights(value.removeprefix("builtin:"))
    path = Path(value)
    if path.is_absolute():
        return path
    joined = Path(pretrained_dir) / path
    if model_type == "open_clip" and model and not joined.exists() and is_open_clip_tag(model, value):
        return value
    return joined


def is_open_clip_tag(model: str, value: str) -> bool:
    """Whether ``value`` is one of open_clip's pretrained tags for ``model`` (``openai`` for ``ViT-B-32``)."""
    try:
        import open_clip
    except ImportError:  # open_clip is a dependency; without it no value is a tag
        return False
    return value in open_clip.list_pretrained_tags_by_model(model.replace("/", "-"))


def open_clip_tag_weights(model: str, tag: str, cache_dir: str | None = None) -> str:
    """The local file of open_clip's ``model``/``tag`` weights, downloaded first when the cache lacks it (open_clip's
    own download: the Hugging Face hub cache, ``$HF_HUB_CACHE``, or ``~/.cache/clip`` for a URL).

    Raises :class:`CheckpointError` (one line) naming the tag, where it comes from, the cache and the error when the
    weights are neither cached nor downloadable (no network, ``HF_HUB_OFFLINE=1``).
    """
    import open_clip
    from open_clip.pretrained import download_pretrained

    name = model.replace("/", "-")
    cfg = open_clip.get_pretrained_cfg(name, tag)
    if cfg.get("hf_hub"):
        from huggingface_hub import constants

        source, cache = f"hf-hub:{cfg['hf_hub'].rstrip('/')}", cache_dir or constants.HF_HUB_CACHE
    else:
        source, cache = cfg.get("url", "?"), cache_dir or str(Path("~/.cache/clip").expanduser())
    try:
        target = download_pretrained(cfg, cache_dir=cache_dir)
    except Exception as e:  # noqa: BLE001 - hub, HTTP and file errors alike: the weights are not here
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(
            f"open_clip {name} pretrained tag {tag!r} needs open_clip's download of {source} into the cache {cache} "
            f"(HF_HUB_CACHE / HF_HOME), which is not there and could not be fetched: {first}; run once with network "
            "access, or point HF_HUB_CACHE at a cache that holds it"
        ) from e
    if not target:
        raise CheckpointError(f"open_clip {name} pretrained tag {tag!r} names no download (its config: {cfg})")
    return str(target)
