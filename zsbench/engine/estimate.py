"""What a run will do, before it does it: ``zsbench plan`` and ``zsbench eval --dry_run``.

:func:`describe_plan` walks a :class:`~zsbench.engine.plan.Plan` the way :class:`~zsbench.engine.runner.Engine`
would run it (models in load order, jobs grouped by image set), but loads no model and encodes no image. It loads
each dataset's index (cheap: file lists, labels, captions) to count images and prompts; a dataset that is not there
is reported as ``missing`` with the loader's one-line reason and counted with the catalog's size. It never
downloads and never generates the built-in datasets.

Cache hits cannot be certain without the model: the image cache key holds the model's identity (weights
fingerprint, transform, tokenizer, library versions) and its resolved precision, known only once it loads. So the
plan reads the stored ``parts`` of the cache entries already on disk and reports as *possible hits* those that match
everything else: dataset, resolved root, split, image-file fingerprint, image count, the options that change
pixels, and the model's type, name and weights (re-fingerprinted, which reads a checkpoint's head and tail only).

The cost is images to encode x the image tower's FLOPs (a table of known architectures, measured with
``torch.utils.flop_counter``: 2 FLOPs per multiply-add), and seconds at ``--throughput`` images/s or at an assumed
per-architecture rate, always labelled as such.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from zsbench.engine.config import EvalConfig
from zsbench.engine.plan import Job, ModelRef, Plan, build_plan
from zsbench.errors import DatasetNotFoundError, ZsbenchError

# Image-tower GFLOPs per image (2 FLOPs per multiply-add), measured with torch.utils.flop_counter on open_clip's
# vision towers at their own resolution. open_clip's published profile numbers (ViT-B-32 4.4, ViT-L-14 81, ...) are
# multiply-adds, half of these.
OPEN_CLIP_GFLOPS: dict[str, float] = {
    "ViT-B-32": 8.8,
    "ViT-B-16": 35.1,
    "ViT-B-16-plus-240": 54.8,
    "ViT-L-14": 162.0,
    "ViT-L-14-336": 381.9,
    "ViT-H-14": 334.6,
    "ViT-g-14": 534.1,
    "ViT-bigG-14": 967.5,
    "zsbench-tiny-shapes": 0.0093,
}
_HF_SIZES = {"base": "B", "large": "L", "huge": "H"}
# The assumption behind the default throughput: one current data-centre GPU sustaining this many TFLOP/s in
# bf16/fp16 on a ViT, and CPU JPEG decoding capping small models at this many images/s.
ASSUMED_TFLOPS = 100.0
ASSUMED_DECODE_IMAGES_PER_S = 2000.0
THROUGHPUT_ASSUMPTION = (
    f"assumed: {ASSUMED_TFLOPS:g} TFLOP/s effective on one GPU, at most {ASSUMED_DECODE_IMAGES_PER_S:g} images/s "
    "(JPEG decoding); pass --throughput IMAGES_PER_S with your measured rate"
)
CACHE_NOTE = (
    "the cache key holds the model's identity and precision, known only once it loads: 'possible hit' means a "
    "stored entry matches everything else (dataset, root, split, image files, count, model type/name/weights)"
)


# -- FLOPs --------------------------------------------------------------------------------------------------------
def _pooling_macs(width: int, tokens: int, out_dim: int) -> float:
    # InternVL's AttentionPooling: one query (the token mean), k/v over every token, then a projection.
    return width * width * (1 + 2 * tokens) + 2 * tokens * width + width * out_dim


def internvl_gflops(config: Any, mode: str) -> float:
    """Image-embedding GFLOPs of an InternVL config (``InternVL-C``: InternViT + pooling; ``-G`` adds QLLaMA's
    query branch). Checked against ``torch.utils.flop_counter`` (C-13B at 224 px: 3084 and 4664)."""
    v, t = config.vision, config.text
    tokens = v.num_patches + 1
    d = v.hidden_size
    macs = v.num_patches * v.num_channels * v.patch_size**2 * d  # patch embedding
    macs += v.depth * (tokens * (4 * d * d + 2 * d * v.intermediate_size) + 2 * tokens * tokens * d)
    macs += _pooling_macs(d, tokens, config.clip_embed_dim)
    if mode == "InternVL-G":
        q, h = config.num_query_token, t.hidden_size
        macs += t.num_layers * (q * (4 * h * h + 3 * h * t.intermediate_size) + 2 * q * q * h)
        cross = len(range(0, t.num_layers, t.cross_attention_frequency))
        macs += cross * (2 * q * h * h + 2 * tokens * d * h + 2 * q * tokens * h)
        macs += _pooling_macs(h, q, config.clip_embed_dim)
    return 2 * macs / 1e9


def _internvl_config(ref: ModelRef, options: dict[str, Any]) -> tuple[Any, str]:
    """The InternVL config the adapter would build, read without the weights; and a note when it is assumed."""
    from zsbench.models.internvl.adapters import ADAPTERS
    from zsbench.models.internvl.config import load_hf_config, pth_config, resolve_config

    adapter = ADAPTERS.get(ref.model)
    if options.get("config") is not None:
        return resolve_config(options["config"]), ""
    if adapter.format == "pth":
        return pth_config(), ""
    if (Path(ref.pretrained) / "config.json").is_file():
        return load_hf_config(ref.pretrained), ""
    return pth_config(), "assumed InternVL-14B sizes: the folder's config.json is not there"


def image_flops(ref: ModelRef, options: dict[str, Any] | None = None) -> tuple[str, float | None, str]:
    """``(architecture, GFLOPs per image or None, note)`` for ``ref``, without loading it."""
    from zsbench.models import MODEL_TYPES

    options = options or {}
    try:
        model_type = MODEL_TYPES.canonical(ref.model_type)
    except ZsbenchError:
        return ref.model, None, "unknown model type"
    name = ref.model
    if model_type == "internvl":
        try:
            config, note = _internvl_config(ref, options)
            from zsbench.models.internvl.adapters import ADAPTERS

            mode = ADAPTERS.get(ref.model).mode
        except (ZsbenchError, OSError, ValueError, TypeError) as e:
            return name, None, f"sizes unknown ({e})"
        label = f"InternViT ({config.vision.hidden_size}x{config.vision.depth})" + (
            " + QLLaMA queries" if mode == "InternVL-G" else ""
        )
        return f"{label}, {config.vision.image_size} px", internvl_gflops(config, mode), note
    if model_type == "hf":
        m = re.search(r"clip-vit-(base|large|huge)-patch(\d+)(?:-(\d+))?", name.lower())
        if m:
            name = f"ViT-{_HF_SIZES[m.group(1)]}-{m.group(2)}" + (f"-{m.group(3)}" if m.group(3) else "")
    if name in OPEN_CLIP_GFLOPS:
        return name, OPEN_CLIP_GFLOPS[name], ""
    # open_clip variants with the same image tower: ViT-B-32-quickgelu, xlm-roberta-base-ViT-B-32, ...
    m = re.search(r"(ViT-(?:B|L|H|g|bigG)-\d+(?:-plus-240|-336)?)(?![\w-]*-\d{3})", name)
    if m and m.group(1) in OPEN_CLIP_GFLOPS:
        return m.group(1), OPEN_CLIP_GFLOPS[m.group(1)], ""
    return name, None, "architecture not in the FLOPs table"


def default_throughput(gflops: float | None) -> float | None:
    """Assumed images/s of an image tower of ``gflops`` (see :data:`THROUGHPUT_ASSUMPTION`)."""
    if gflops is None:
        return None
    return min(ASSUMED_DECODE_IMAGES_PER_S, ASSUMED_TFLOPS * 1e3 / gflops)


# -- memory -------------------------------------------------------------------------------------------------------
# A simple model of a run's peak memory, labelled an estimate wherever it is shown; tests/engine/test_memory_estimate.py
# checks it against measured peaks (within 2x) and benchmarks/gpu/check.py prints it next to measured GPU peaks.
#
# weights: parameters x bytes per parameter of the weight dtype (fp32 4, fp16/bf16 2); under autocast the weights
#   stay fp32 and autocast keeps a 2-byte copy of each weight it casts while a batch runs (+2 bytes per parameter).
# activations of a transformer tower, in inference mode, for a batch of B samples of T tokens of width W with H
#   heads: at a block's peak the residual stream, its normalised copy, the MLP's 4W-wide hidden tensor and its
#   activated copy are alive (1 + 1 + 4 + 4 = ACT_WIDTHS x W per token), and the attention holds scores and their
#   softmax (2 x H x T x T per sample). The working set does not depend on the number of layers (each block's
#   tensors are freed before the next block's peak), so: B x (ACT_WIDTHS x T x W + 2 x H x T^2) x bytes per value.
#   For a ResNet tower the largest feature maps (the stem's and the first stage's, W x S^2 / 4 values per sample for
#   width W at S px) are counted 4 times (input, two intermediates, residual).
# the input batch: B x 3 x S x S float32 pixels (and their cast to the weight dtype).
# text: the engine encodes prompts max(batch, 256) at a time (runner.text_embeddings) of at most the context length
#   (an upper bound: open_clip CLIP prompts run only to the longest one, about 15 tokens of 77).
# host, a CPU run: the checkpoint (memory-mapped, every page read while copying) and the model, built in fp32, are
#   both resident while it loads; then weights + the larger of the image and text working sets.
# host, a GPU run: the load peak; the GPU holds weights + the larger working set (torch's allocator; the CUDA
#   context, ~0.5 GiB, is not counted, as torch.cuda.max_memory_allocated does not count it).
# Not counted: the Python process with its libraries (~0.5-1 GiB of host memory), the loader workers' batches.
ACT_WIDTHS = 10  # for the usual 4x MLP; 2 + 2 x mlp_ratio in general (InternViT 10, QLLaMA's SwiGLU 7.4: low)
TEXT_BATCH_MIN = 256  # runner.Engine.text_embeddings: max(batch_size, 256) prompts per forward pass
_WEIGHT_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}
MEMORY_NOTE = (
    "memory: an estimate (parameters x bytes per precision + activations at the batch size; see "
    "zsbench/engine/estimate.py), not counting the Python process and its libraries (~0.5-1 GiB of host memory)"
)


def _vit_params(width: int, layers: int, mlp: int, tokens: int, patch_in: int, embed_dim: int) -> int:
    block = 4 * width + 3 * width * width + 3 * width + width * width + width + width * mlp + mlp + mlp * width + width
    return patch_in * width + width + tokens * width + 4 * width + layers * block + width * embed_dim


def _resnet_params(width: int, layers: list[int], image_size: int, heads: int, embed_dim: int) -> int:
    def conv_bn(c_in: int, c_out: int, k: int) -> int:
        return c_in * c_out * k * k + 2 * c_out

    n = conv_bn(3, width // 2, 3) + conv_bn(width // 2, width // 2, 3) + conv_bn(width // 2, width, 3)
    inplanes = width
    for stage, blocks in enumerate(layers):
        planes = width * 2**stage
        for b in range(blocks):
            n += conv_bn(inplanes, planes, 1) + conv_bn(planes, planes, 3) + conv_bn(planes, 4 * planes, 1)
            if b == 0 and (stage > 0 or inplanes != 4 * planes):
                n += conv_bn(inplanes, 4 * planes, 1)
            inplanes = 4 * planes
    d = width * 32
    return n + ((image_size // 32) ** 2 + 1) * d + 3 * (d * d + d) + d * embed_dim + embed_dim


def open_clip_shape(config: dict[str, Any]) -> dict[str, Any] | None:
    """Parameters and tower shapes of an open_clip architecture config (ViT or ResNet image tower, CLIP text
    transformer); None for towers this model does not cover (timm, Hugging Face, CoCa decoders)."""
    from zsbench.models.open_clip_import import is_plain

    if not is_plain(config):
        return None
    try:
        e = int(config["embed_dim"])
        v, t = config["vision_cfg"], config["text_cfg"]
        size = v.get("image_size", 224)
        size = int(size[0] if isinstance(size, list | tuple) else size)
        vw = int(v.get("width", 768))
        if isinstance(v.get("layers"), list | tuple):
            heads = int(v.get("heads") or vw * 32 // 64)
            params = _resnet_params(vw, [int(x) for x in v["layers"]], size, heads, e)
            image = {"kind": "resnet", "width": vw, "size": size}
        else:
            patch = int(v["patch_size"])
            tokens = (size // patch) ** 2 + 1
            mlp = int(vw * float(v.get("mlp_ratio", 4.0)))
            params = _vit_params(vw, int(v["layers"]), mlp, tokens, 3 * patch * patch, e)
            heads = vw // int(v.get("head_width", 64))
            image = {"kind": "vit", "tokens": tokens, "width": vw, "heads": heads, "size": size, "mlp_ratio": mlp / vw}
        tw, ctx = int(t.get("width", 512)), int(t.get("context_length", 77))
        t_mlp = int(tw * float(t.get("mlp_ratio", 4.0)))
        params += int(t.get("vocab_size", 49408)) * tw + _vit_params(tw, int(t.get("layers", 12)), t_mlp, ctx, 0, e)
        params -= tw  # the text tower has no class token, and one final LayerNorm where the image tower has two
        params += 1  # logit_scale
        text = {"kind": "vit", "tokens": ctx, "width": tw, "heads": int(t.get("heads", 8)), "size": 0,
                "mlp_ratio": t_mlp / tw}  # fmt: skip
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return {"params": params, "image": image, "text": text}


def internvl_shape(config: Any, mode: str = "InternVL-G") -> dict[str, Any]:
    """Parameters and tower shapes of an InternVL config: InternViT, QLLaMA and the image pooler; ``InternVL-G``
    adds QLLaMA's query branch (cross-attention every ``cross_attention_frequency`` layers, the queries, a second
    pooler). Within 0.2 % of the built models (the tiny test model and the 14B, both modes)."""
    v, t = config.vision, config.text
    d, h = v.hidden_size, t.hidden_size
    tokens = v.num_patches + 1
    vision = v.num_channels * v.patch_size**2 * d + (tokens + 1) * d
    vision += v.depth * (4 * d * d + 2 * d * v.intermediate_size + 10 * d)
    text = t.vocab_size * h + t.num_layers * (4 * h * h + 3 * h * t.intermediate_size + 2 * h)
    e = config.clip_embed_dim
    params = vision + text + 4 * d * d + d * e
    if mode == "InternVL-G":
        cross = len(range(0, t.num_layers, t.cross_attention_frequency))
        params += cross * (2 * h * h + 2 * d * h) + config.num_query_token * h + 4 * h * h + h * e
    return {
        "params": params,
        "image": {"kind": "vit", "tokens": tokens, "width": d, "heads": v.num_heads, "size": v.image_size,
                  "mlp_ratio": v.intermediate_size / d},
        "text": {"kind": "vit", "tokens": config.context_length, "width": h, "heads": t.num_heads, "size": 0,
                 "mlp_ratio": t.intermediate_size / h},
    }  # fmt: skip


def model_shape(ref: ModelRef, options: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, str]:
    """``(shape, note)``: parameters and tower shapes of ``ref`` from its architecture config, without loading it."""
    from zsbench.models import MODEL_TYPES
    from zsbench.models.open_clip_import import model_config

    options = options or {}
    try:
        model_type = MODEL_TYPES.canonical(ref.model_type)
    except ZsbenchError:
        return None, "unknown model type"
    if model_type == "internvl":
        try:
            config, note = _internvl_config(ref, options)
            from zsbench.models.internvl.adapters import ADAPTERS

            mode = ADAPTERS.get(ref.model).mode
        except (ZsbenchError, OSError, ValueError, TypeError) as e:
            return None, f"sizes unknown ({e})"
        return internvl_shape(config, mode), note
    name = ref.model
    if model_type == "hf":  # transformers' CLIP checkpoints have open_clip's shapes
        name, _, _ = image_flops(ref, options)
        config = model_config(name)
    else:
        config = model_config(ref.model, ref.pretrained)
    shape = open_clip_shape(config) if config else None
    return shape, "" if shape else "architecture not covered by the memory model"


def tower_activation_bytes(tower: dict[str, Any], batch: int, value_bytes: int) -> int:
    """The working set of one tower for a batch (see the comment above :data:`ACT_WIDTHS`)."""
    if tower["kind"] == "resnet":
        return 4 * batch * tower["width"] * tower["size"] ** 2 // 4 * value_bytes
    t, w, heads = tower["tokens"], tower["width"], tower["heads"]
    widths = ACT_WIDTHS + 2 * (float(tower.get("mlp_ratio", 4.0)) - 4.0)
    return int(batch * (widths * t * w + 2 * heads * t * t) * value_bytes)


def tower_peak_bytes(shape: dict[str, Any], tower: str, batch: int, value_bytes: int, tokens: int | None = None) -> int:
    """Weights (``value_bytes`` per parameter) plus one tower's working set for ``batch`` samples, the input pixels
    included for the image tower, in the weight dtype (``tokens``: another text length): what one forward pass of
    that tower needs, which ``benchmarks/gpu/check.py`` prints next to the measured peak."""
    t = dict(shape[tower])
    if tokens is not None:
        t["tokens"] = tokens
    pixels = batch * 3 * t["size"] ** 2 * value_bytes if tower == "image" else 0
    return int(shape["params"]) * value_bytes + tower_activation_bytes(t, batch, value_bytes) + pixels


def memory_estimate(
    shape: dict[str, Any] | None,
    *,
    precision: Any,
    device: str,
    batch_size: int,
    checkpoint_bytes: int | None = None,
    text_batch: int | None = None,
    fp32_build: bool = True,
) -> dict[str, Any] | None:
    """Peak host and (on CUDA) GPU memory of a run of one model, in bytes; None when the shape is unknown.

    ``precision`` is a resolved :class:`~zsbench.models.base.Precision`; ``checkpoint_bytes`` the weights file's size
    (None: random weights or a download, not read from a local file); ``fp32_build``: the model is built in fp32 on
    the host and cast and moved after loading (open_clip, transformers), else built in its dtype on the device
    (InternVL).
    """
    if shape is None:
        return None
    params = int(shape["params"])
    weight_bytes = _WEIGHT_BYTES[precision.weights]
    value_bytes = 2 if precision.autocast else weight_bytes
    weights = params * weight_bytes + (2 * params if precision.autocast else 0)
    image = shape["image"]
    pixels = batch_size * 3 * image["size"] ** 2 * (4 + (weight_bytes if weight_bytes != 4 else 0))
    image_act = tower_activation_bytes(image, batch_size, value_bytes) + pixels
    texts = text_batch if text_batch is not None else max(batch_size, TEXT_BATCH_MIN)
    text_act = tower_activation_bytes(shape["text"], texts, value_bytes)
    cuda = device.startswith("cuda")
    built = params * 4 if fp32_build else (0 if cuda else params * weight_bytes)
    load = built + (checkpoint_bytes or 0)
    run = weights + max(image_act, text_act)
    return {
        "params": params,
        "weights_bytes": params * weight_bytes,
        "checkpoint_bytes": checkpoint_bytes,
        "image_activations_bytes": image_act,
        "text_activations_bytes": text_act,
        "text_batch": texts,
        "peak_host_bytes": load if cuda else max(load, run),
        "peak_gpu_bytes": run if cuda else None,
        "device": device,
        "precision": precision.name,
    }


def _checkpoint_bytes(ref: ModelRef) -> int | None:
    path = Path(ref.pretrained).expanduser() if ref.pretrained and "://" not in ref.pretrained else None
    if path is None:
        return None
    try:
        if path.is_file():
            return path.stat().st_size
        if path.is_dir():  # a folder of weights (local-dir:, HF layout): its weight files
            files = [f for f in path.rglob("*") if f.suffix in (".safetensors", ".bin", ".pth", ".pt")]
            return sum(f.stat().st_size for f in files) or None
    except OSError:
        return None
    return None


def _run_device(config: EvalConfig) -> str:
    if config.device:
        return config.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_memory(ref: ModelRef, config: EvalConfig) -> tuple[dict[str, Any] | None, str]:
    """:func:`memory_estimate` for one model of a run (its precision, device and batch size), and a note."""
    from zsbench.models import MODEL_TYPES
    from zsbench.models.base import resolve_precision

    shape, note = model_shape(ref, config.model_options)
    if shape is None:
        return None, note
    internvl = MODEL_TYPES.canonical(ref.model_type) == "internvl"
    device = _run_device(config)
    try:  # InternVL's adapter defaults to fp16 weights on a GPU, the others to autocast
        precision = resolve_precision(config.precision, device, gpu_default="fp16" if internvl else "amp")
    except ZsbenchError as e:
        return None, str(e)
    estimate = memory_estimate(
        shape, precision=precision, device=device, batch_size=config.batch_size,
        checkpoint_bytes=_checkpoint_bytes(ref), fp32_build=not internvl,
    )  # fmt: skip
    return estimate, note


def _gib(n: float | None) -> str:
    return "unknown" if n is None else f"{n / 2**30:.2f} GiB"


def format_memory(estimate: dict[str, Any] | None, note: str = "") -> str:
    """One line: ``memory (estimate): peak host ..., GPU ... (weights ..., activations ...)``."""
    if estimate is None:
        return f"memory (estimate): unknown ({note or 'architecture not covered by the memory model'})"
    gpu = f", GPU {_gib(estimate['peak_gpu_bytes'])}" if estimate["peak_gpu_bytes"] is not None else ""
    checkpoint = estimate["checkpoint_bytes"]
    return (
        f"memory (estimate, {estimate['device']}, {estimate['precision']}): peak host {_gib(estimate['peak_host_bytes'])}"
        f"{gpu}; {estimate['params'] / 1e6:,.1f} M parameters = {_gib(estimate['weights_bytes'])} of weights, "
        f"activations {_gib(estimate['image_activations_bytes'])} (images) / "
        f"{_gib(estimate['text_activations_bytes'])} ({estimate['text_batch']} texts)"
        + (f", checkpoint {_gib(checkpoint)} while loading" if checkpoint else "")
    )


# -- datasets -----------------------------------------------------------------------------------------------------
def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _catalog_sizes(spec: Any, split: str, language: str) -> tuple[int | None, int | None]:
    """``(images, captions)`` of a complete split according to the catalog (None where it does not say)."""
    sizes = spec.sizes
    images = sizes.get(f"{split}@{language}", sizes.get(split))
    captions = sizes.get(f"{split}@{language}/captions", sizes.get(f"{split}/captions"))
    return images, captions


def _catalog_prompts(spec: Any, dataset: str, language: str) -> tuple[int | None, str]:
    """Prompts of a classification dataset from the bundled prompt files (for a dataset that is not there)."""
    from zsbench.datasets import prompts

    try:
        key = spec.prompt_key or dataset
        names = prompts.classnames(key, language)
        templates = prompts.templates(key, language)
    except ZsbenchError:
        return None, "unknown (dataset not loaded)"
    return len(names) * len(templates), f"{len(names)} classes x {len(templates)} templates (bundled files)"


def _required_present(root: str, required: Iterable[str]) -> bool:
    return all(any((Path(root) / alt).exists() for alt in entry.split("|")) for entry in required)


class _Inspector:
    """Loads each (dataset, root, split, language) index once, through the engine's one dataset-loading place."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._data: dict[tuple[Any, ...], tuple[Any, dict[str, Any]]] = {}

    def data(self, job: Job, split: str | None = None) -> tuple[Any, dict[str, Any]]:
        """``(loaded data or None, status)`` of the job's split (or ``split``); ``status`` has ``status`` and,
        unless ok, ``reason``."""
        # A plan never downloads: the job is loaded without the --download option.
        options = tuple(o for o in job.dataset_options if o[0] != "download")
        job = replace(job, split=split or job.split, dataset_options=options)
        key = (job.dataset, job.dataset_root, job.split, job.language, repr(job.dataset_options))
        if key not in self._data:
            self._data[key] = self._load(job)
        return self._data[key]

    def _load(self, job: Job) -> tuple[Any, dict[str, Any]]:
        from zsbench.datasets import get_spec

        spec = get_spec(job.dataset)
        root = job.dataset_root
        if "://" in root:
            return None, {"status": "not checked", "reason": f"remote root {root} (a plan reads nothing remote)"}
        if spec.builtin and not _required_present(root, spec.required):
            return None, {"status": "not generated", "reason": "the first eval generates it"}
        try:
            data = self.engine.load_data(job)
        except DatasetNotFoundError as e:
            status = "incomplete" if "incomplete" in str(e).lower() else "missing"
            return None, {"status": status, "reason": _first_line(e)}
        except (ZsbenchError, OSError) as e:
            return None, {"status": "error", "reason": _first_line(e)}
        return data, {"status": "ok"}


def _keys_digest(images: Any) -> str:
    return hashlib.sha256("\0".join(images.image_key(i) for i in range(len(images))).encode()).hexdigest()


def _resolved_root(root: str) -> str:
    return root if "://" in root else os.path.realpath(root)


# -- cache --------------------------------------------------------------------------------------------------------
def _read_parts(path: Path) -> dict[str, Any] | None:
    """The ``parts`` stored in a cache entry's safetensors header (the header only: no tensor is read)."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100 << 20:
                return None
            header = json.loads(f.read(n))
        parts = json.loads(header.get("__metadata__", {}).get("parts", "null"))
    except (OSError, ValueError, struct.error, AttributeError):
        return None
    return parts if isinstance(parts, dict) else None


class _CacheIndex:
    """Image entries already in the embedding cache, by their stored ``parts``."""

    def __init__(self, config: EvalConfig) -> None:
        from zsbench.paths import default_cache_dir

        self.config = config
        self.root = None if config.cache_dir == "" else Path(config.cache_dir or default_cache_dir())
        self.entries: list[tuple[Path, dict[str, Any]]] = []
        if self.root is not None and (self.root / "embeddings").is_dir():
            for path in sorted((self.root / "embeddings").glob("*/*.safetensors")):
                parts = _read_parts(path)
                if parts is not None and parts.get("kind") == "image":
                    self.entries.append((path, parts))
        self._weights: dict[str, str | None] = {}

    def _weights_now(self, path: str) -> str | None:
        # The fingerprint the loader would compute (head and tail of a large file): a changed checkpoint is a miss.
        if path not in self._weights:
            from zsbench.models.base import fingerprint_path

            try:
                self._weights[path] = fingerprint_path(path)["sha256"] if os.path.exists(path) else None
            except OSError:
                self._weights[path] = None
        return self._weights[path]

    def _same_model(self, ident: Any, ref: ModelRef, model_type: str) -> bool:
        if not isinstance(ident, dict) or ident.get("model_type") != model_type:
            return False
        if model_type != "hf" and ident.get("architecture") != ref.model:
            return False  # hf records the class it built (CLIPModel), not the name given
        given = {ref.pretrained, _resolved_root(ref.pretrained)}
        weights = ident.get("weights") or {}
        if ident.get("pretrained") not in given and _resolved_root(str(weights.get("path", ""))) not in given:
            return False
        compiled = bool((ident.get("extra") or {}).get("compiled"))
        if compiled != self.config.compile:
            return False
        if weights.get("path") and weights.get("sha256"):
            return self._weights_now(str(weights["path"])) == weights["sha256"]
        return True

    def lookup(self, ref: ModelRef, job: Job, split: str, images: Any, output: str = "embeddings") -> dict[str, Any]:
        """What the cache holds for this image set under this model (``status``, ``entries``); ``output``: the
        task's ``image_output`` (embeddings or generated captions)."""
        from zsbench.engine.gpu_decode import supports_gpu_decode
        from zsbench.models import MODEL_TYPES

        cfg = self.config
        if self.root is None:
            return {"status": "disabled", "entries": []}
        if images is None:
            return {"status": "unknown", "entries": [], "reason": "dataset not loaded"}
        model_type = MODEL_TYPES.canonical(ref.model_type)
        want = {
            "dataset": job.dataset.removeprefix("wds/"),
            "dataset_root": _resolved_root(job.dataset_root),
            "split": split,
            "fingerprint_mode": cfg.fingerprint,
            "n": len(images),
            "skip_corrupt": cfg.skip_corrupt,
            "gpu_decode": cfg.gpu_decode and supports_gpu_decode(images) and output != "captions",
            "output": None if output == "embeddings" else output,  # generated captions have their own entries
        }
        found = [
            (path, parts)
            for path, parts in self.entries
            if all(parts.get(k) == v for k, v in want.items()) and self._same_model(parts.get("model"), ref, model_type)
        ]
        if not found:
            return {"status": "no entry", "entries": []}
        note = ""
        if cfg.fingerprint == "stat":
            # Only now, and only for candidates: the stat fingerprint stats every image file.
            fingerprint = images.fingerprint(cfg.fingerprint)
            found = [(p, parts) for p, parts in found if parts.get("images") == fingerprint]
            if not found:
                return {"status": "no entry", "entries": [], "reason": "image files changed since the entries"}
        else:
            note = "image files not compared (--fingerprint content would read every file)"
        entries = [{"path": str(p), "precision": parts.get("precision")} for p, parts in found]
        return {"status": "possible hit", "entries": entries, **({"reason": note} if note else {})}


# -- the plan -----------------------------------------------------------------------------------------------------
def _texts(job: Job, data: Any, settings: Any) -> tuple[int | None, str]:
    """How many texts the job's task asks to encode, and what they are (``settings``: the engine's for the job)."""
    from zsbench.datasets import get_spec
    from zsbench.datasets.languages import canonical_language
    from zsbench.tasks import TASKS
    from zsbench.tasks.base import ImageEmbeddings

    task = TASKS.get(job.task)
    if task.image_output != "embeddings":  # captioning: nothing to encode on the text side
        return 0, "none: a caption is generated per image (beam search; its cost is not in the estimate)"
    if data is None:
        spec = get_spec(job.dataset)
        if settings.classifier is not None and job.task == "zeroshot_classification":
            return 0, "none (--load_clfs)"
        if job.task == "zeroshot_retrieval":
            _, captions = _catalog_sizes(spec, job.split, canonical_language(job.language))
            return captions, f"{captions} captions (catalog)" if captions else "unknown (dataset not loaded)"
        if job.task == "zeroshot_classification" and not any(
            k in dict(job.dataset_options) for k in ("custom_classname_file", "custom_template_file")
        ):
            return _catalog_prompts(spec, job.dataset, canonical_language(job.language))
        return None, "unknown (dataset not loaded)"
    images = {role: ImageEmbeddings(None, len(s)) for role, s in task.image_sets(data).items()}  # type: ignore[arg-type]
    texts = task.texts(data, images, settings)
    if texts is None:
        return 0, "none (--load_clfs)" if settings.classifier is not None else "none"
    n = len(texts.texts)
    if hasattr(data, "classnames") and isinstance(getattr(data, "templates", None), list):
        return n, f"{len(data.classnames)} classes x {len(data.templates)} templates"
    if hasattr(data, "classnames"):
        return n, f"{len(data.classnames)} classes, {n} prompts (CuPL)"
    if hasattr(data, "captions"):
        return n, f"{n} captions"
    return n, f"{n} texts"


def _image_set(job: Job, split: str, images: Any, status: dict[str, Any]) -> dict[str, Any]:
    """One image set the job encodes: its split, size, and the key that says which jobs share it.

    Loaded, the key is what the engine's cache key holds of the images (root, split, the image keys themselves), so
    a language with other images (COCO-CN vs COCO) never shares. Not loaded, a language with its own size in the
    catalog (COCO-CN: 1000 of the 5000 images) is assumed to have its own images; the others share the split's
    (the five ImageNet languages, XTD).
    """
    from zsbench.datasets import get_spec
    from zsbench.datasets.languages import canonical_language

    root = _resolved_root(job.dataset_root)
    dataset = job.dataset.removeprefix("wds/")
    if images is not None:
        key = ("loaded", dataset, root, split, type(images).__name__, _keys_digest(images))
        return {"split": split, "n": len(images), "count": "loaded", "key": key, "images": images, **status}
    spec = get_spec(job.dataset)
    lang = canonical_language(job.language)
    n, _ = _catalog_sizes(spec, split, lang)
    key = ("expected", dataset, root, split, lang if f"{split}@{lang}" in spec.sizes else "")
    count = "catalog" if n is not None else "unknown"
    return {"split": split, "n": n, "count": count, "key": key, "images": None, **status}


def _job_image_sets(job: Job, inspector: _Inspector, settings: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The job's data (None when not loaded) and every image set its task encodes: the job's split, and the other
    splits a task asks for (``Task.splits``, e.g. a linear probe's train split), as the engine encodes them."""
    from zsbench.tasks import TASKS
    from zsbench.tasks.base import EVAL_IMAGES

    task = TASKS.get(job.task)
    data, status = inspector.data(job)
    if data is not None:
        sets = [_image_set(job, job.split if role == EVAL_IMAGES else role, images, status)
                for role, images in task.image_sets(data).items()]  # fmt: skip
    else:
        sets = [_image_set(job, job.split, None, status)]
    other = getattr(task, "splits", None)  # tasks that train on another split (linear probe)
    for split in (other(settings) if other is not None else {}).values():
        if split == job.split:
            continue
        split_data, split_status = inspector.data(job, split)
        sets.append(_image_set(job, split, None if split_data is None else split_data.images, split_status))
    return data, sets


def describe_plan(
    plan: Plan,
    config: EvalConfig,
    *,
    throughput: float | None = None,
    cases: list[Any] | None = None,
) -> dict[str, Any]:
    """The plan as plain data (what ``--format json`` prints): models in load order, their image sets and jobs,
    cache entries that may be hits, the cost estimate, and what CLIP_benchmark would do for the same jobs.

    Loads no model and encodes no image. ``throughput`` (images/s) replaces the assumed per-architecture rates.
    ``cases`` (regression-suite snapshots, one per job of ``plan.jobs``) are named with their jobs.
    """
    from zsbench.engine.records import identity
    from zsbench.engine.results import has_record
    from zsbench.engine.runner import Engine
    from zsbench.models import MODEL_TYPES
    from zsbench.tasks import TASKS

    if throughput is not None and not throughput > 0:
        raise ZsbenchError(f"--throughput must be a positive number of images per second, got {throughput}")
    engine = Engine(config)  # for the tasks' per-job settings only: an engine loads nothing until it runs
    inspector = _Inspector(engine)
    cache = _CacheIndex(config)
    case_of = {id(job): case for job, case in zip(plan.jobs, cases or [])}
    models: list[dict[str, Any]] = []
    previous: ModelRef | None = None
    reads = 0
    for ref, group in plan.by_model():
        skipped = [j for j in group if config.skip_existing and has_record(j.output, identity(j))]
        group = [j for j in group if j not in skipped]
        arch, gflops, flops_note = image_flops(ref, config.model_options)
        rate = throughput if throughput is not None else default_throughput(gflops)
        memory, memory_note = model_memory(ref, config)
        entry: dict[str, Any] = {
            "model_type": ref.model_type,
            "model": ref.model,
            "pretrained": ref.pretrained,
            "architecture": arch,
            "gflops_per_image": gflops,
            "flops_note": flops_note,
            "throughput_images_per_s": rate,
            "throughput_source": "--throughput" if throughput is not None else ("assumed" if rate else "unknown"),
            "memory_estimate": memory,
            "memory_note": memory_note,
            "skipped_existing": [j.output for j in skipped],
            "image_sets": [],
            "jobs": [],
        }
        if not group:
            entry["load"] = "not loaded (every result exists, --skip_existing)"
            models.append(entry)
            continue
        # The pool keeps the current model while the next one has the same weights; InternVL's adapters then share
        # the network, so the checkpoint is read once for both (other families build their own model).
        shares = previous is not None and previous.pretrained == ref.pretrained and _is_internvl(ref, MODEL_TYPES)
        entry["load"] = f"shares the network of {previous.model} (same checkpoint)" if shares and previous else "load"
        reads += 0 if shares else 1
        previous = ref
        sets: dict[tuple[Any, ...], int] = {}
        for job in group:
            settings = engine.task_settings(job)
            data, job_image_sets = _job_image_sets(job, inspector, settings)
            texts, texts_desc = _texts(job, data, settings)
            job_sets = []
            output = TASKS.get(job.task).image_output
            for image_set in job_image_sets:
                key = (*image_set.pop("key"), output)  # generated captions never reuse embeddings, nor the reverse
                images = image_set.pop("images")
                if key in sets:
                    job_sets.append({"index": sets[key], "action": "reuse", "n": image_set["n"]})
                    entry["image_sets"][sets[key]]["languages"].append(job.language)
                    continue
                sets[key] = len(entry["image_sets"])
                entry["image_sets"].append(
                    {
                        "dataset": job.dataset,
                        "root": job.dataset_root,
                        "languages": [job.language],
                        **image_set,
                        "cache": cache.lookup(ref, job, image_set["split"], images, output),
                    }
                )
                job_sets.append({"index": sets[key], "action": "encode", "n": image_set["n"]})
            if data is not None and hasattr(data, "image_ids") and job_sets:
                # CLIP_benchmark encodes every instance's images, an image shared by instances once per instance
                job_sets[0]["upstream_n"] = sum(len(ids) for ids in data.image_ids)
            job_entry = {
                "dataset": job.dataset,
                "language": job.language,
                "task": job.task,
                "split": job.split,
                "output": job.output,
                "image_sets": job_sets,
                "texts": texts,
                "texts_desc": texts_desc,
            }
            case = case_of.get(id(job))
            if case is not None:
                job_entry["case"] = case.id
            entry["jobs"].append(job_entry)
        _model_totals(entry, gflops, rate)
        models.append(entry)
    return {
        "models": models,
        "totals": _totals(models, reads, config),
        "notes": _notes(models, config, throughput),
    }


def _is_internvl(ref: ModelRef, registry: Any) -> bool:
    try:
        return registry.canonical(ref.model_type) == "internvl"
    except ZsbenchError:
        return False


def _model_totals(entry: dict[str, Any], gflops: float | None, rate: float | None) -> None:
    sets = entry["image_sets"]
    known = [s["n"] for s in sets if s["n"] is not None]
    entry["images_to_encode"] = sum(known)
    entry["image_sets_of_unknown_size"] = len(sets) - len(known)
    entry["possible_cache_hit_images"] = sum(
        s["n"] for s in sets if s["n"] is not None and s["cache"]["status"] == "possible hit"
    )
    entry["texts"] = sum(j["texts"] or 0 for j in entry["jobs"])
    # What CLIP_benchmark does for the same jobs: every (model, dataset, language) run reloads the model and
    # re-encodes its images.
    per_job = [s.get("upstream_n", s["n"]) for j in entry["jobs"] for s in j["image_sets"]]
    entry["clip_benchmark_image_encodes"] = sum(n for n in per_job if n is not None)
    entry["tflops"] = None if gflops is None else entry["images_to_encode"] * gflops / 1e3
    entry["clip_benchmark_tflops"] = None if gflops is None else entry["clip_benchmark_image_encodes"] * gflops / 1e3
    entry["seconds"] = None if rate is None else entry["images_to_encode"] / rate
    entry["clip_benchmark_seconds"] = None if rate is None else entry["clip_benchmark_image_encodes"] / rate


def _totals(models: list[dict[str, Any]], reads: int, config: EvalConfig) -> dict[str, Any]:
    loaded = [m for m in models if m["jobs"]]
    jobs = sum(len(m["jobs"]) for m in loaded)

    def total(key: str) -> float | None:
        values = [m.get(key) for m in loaded]
        return None if any(v is None for v in values) else sum(values)  # type: ignore[misc]

    return {
        "jobs": jobs,
        "jobs_skipped_existing": sum(len(m["skipped_existing"]) for m in models),
        "model_loads": len(loaded),
        "checkpoint_reads": reads,
        "image_sets": sum(len(m["image_sets"]) for m in loaded),
        "images_to_encode": sum(m["images_to_encode"] for m in loaded),
        "image_sets_of_unknown_size": sum(m["image_sets_of_unknown_size"] for m in loaded),
        "possible_cache_hit_images": sum(m["possible_cache_hit_images"] for m in loaded),
        "texts": sum(m["texts"] for m in loaded),
        "tflops": total("tflops"),
        "seconds": total("seconds"),
        "missing_datasets": sorted(
            {f"{s['dataset']} ({s['root']})" for m in loaded for s in m["image_sets"] if s["status"] != "ok"}
        ),
        "clip_benchmark": {
            "model_loads": jobs,
            "checkpoint_reads": jobs,
            "image_encodes": sum(m["clip_benchmark_image_encodes"] for m in loaded),
            "tflops": total("clip_benchmark_tflops"),
            "seconds": total("clip_benchmark_seconds"),
        },
    }


def _notes(models: list[dict[str, Any]], config: EvalConfig, throughput: float | None) -> list[str]:
    notes = [CACHE_NOTE]
    if throughput is None:
        notes.append("seconds: " + THROUGHPUT_ASSUMPTION)
        if config.device == "cpu":
            notes.append("--device cpu: the assumed rates are a GPU's; a CPU is far slower")
    notes.append("cost counts the image tower only (2 FLOPs per multiply-add); text encoding is not included")
    notes.append(MEMORY_NOTE)
    if any(s["count"] == "catalog" for m in models for s in m["image_sets"]):
        notes.append(
            "sizes marked 'catalog' are the complete split's, for datasets that are not there yet; without the files, "
            "a language with its own split in the catalog (COCO-CN, Flickr30K-CN) counts as its own image set, the "
            "other languages of a dataset share one"
        )
    types = {m["model_type"] for m in models if m["jobs"]}
    if "internvl" in types:
        notes.append(
            "InternVL's _classification and _retrieval adapters on one checkpoint share the network (read once) "
            "but not image embeddings: their transforms differ, so their cache keys do"
        )
    return notes


# -- text ---------------------------------------------------------------------------------------------------------
def _num(n: float | None, unit: str = "") -> str:
    if n is None:
        return "unknown"
    if isinstance(n, int) or float(n).is_integer():
        return f"{int(n):,}{unit}"
    return f"{n:,.1f}{unit}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _gflops(g: float | None) -> str:
    if g is None:
        return "unknown"
    return f"{g:.4g} GFLOPs/image"


def _tflops(t: float | None) -> str:
    """An amount of work (not a rate), in the largest unit that keeps it readable."""
    if t is None:
        return "unknown FLOPs"
    for unit, scale in (("EFLOP", 1e6), ("PFLOP", 1e3), ("TFLOP", 1.0)):
        if t >= scale:
            return f"{t / scale:,.3g} {unit}"
    return f"{t * 1e3:,.3g} GFLOP"


def format_text(report: dict[str, Any], title: str = "zsbench plan") -> str:
    """The readable table of :func:`describe_plan`'s report."""
    t = report["totals"]
    cb = t["clip_benchmark"]
    unknown = (
        f" + {t['image_sets_of_unknown_size']} image set(s) of unknown size" if t["image_sets_of_unknown_size"] else ""
    )
    lines = [
        f"{title}: {t['jobs']} job(s), {t['model_loads']} model load(s) ({t['checkpoint_reads']} checkpoint "
        f"read(s)), {t['image_sets']} image set(s), {_num(t['images_to_encode'])} images to encode{unknown}",
    ]
    if t["jobs_skipped_existing"]:
        lines.append(f"skipped (result exists, --skip_existing): {t['jobs_skipped_existing']} job(s)")
    for i, m in enumerate(report["models"], 1):
        lines.append("")
        lines.append(f"model {i}: {m['model_type']} {m['model']}  pretrained={m['pretrained']}  [{m['load']}]")
        rate = m["throughput_images_per_s"]
        rate_text = "unknown" if rate is None else f"{rate:,.0f} images/s ({m['throughput_source']})"
        note = f" ({m['flops_note']})" if m["flops_note"] else ""
        lines.append(f"  architecture: {m['architecture']}, {_gflops(m['gflops_per_image'])}{note}; {rate_text}")
        lines.append("  " + format_memory(m.get("memory_estimate"), m.get("memory_note", "")))
        if not m["jobs"]:
            continue
        lines.append("  image sets:")
        for k, s in enumerate(m["image_sets"], 1):
            # The loader's reason up to its first ';' (the layout hints that follow are in --format json and in
            # 'zsbench datasets').
            reason = str(s.get("reason", "")).split("; ")[0]
            where = f"root {s['root']}" if s["status"] == "ok" else f"{s['status']}: {s['root']} ({reason})"
            count = _num(s["n"]) + (f" ({s['count']})" if s["count"] != "loaded" else "")
            c = s["cache"]
            cache = c["status"]
            if c["entries"]:
                precisions = ", ".join(sorted({str(e["precision"]) for e in c["entries"]}))
                cache += f" ({len(c['entries'])} entry, precision {precisions})"
            if c.get("reason") and c["status"] != "unknown":
                cache += f"; {c['reason']}"
            langs = ",".join(s["languages"])
            lines.append(f"    [{k}] {s['dataset']} {s['split']} [{langs}]: {count} images; cache: {cache}")
            lines.append(f"        {where}")
        lines.append("  jobs:")
        for j in m["jobs"]:
            sets = ", ".join(f"{'encodes' if s['action'] == 'encode' else 'reuses'} [{s['index'] + 1}]"
                             for s in j["image_sets"])  # fmt: skip
            # A regression case writes no result file: name the case instead.
            where = f"case {j['case']}" if j.get("case") else f"-> {j['output']}"
            lines.append(
                f"    {j['dataset']} [{j['language']}] {j['task']}: images {sets}; texts: {j['texts_desc']}; {where}"
            )
        lines.append(
            f"  to encode: {_num(m['images_to_encode'])} images, {_tflops(m['tflops'])}, {_duration(m['seconds'])}"
            f" (CLIP_benchmark: {_num(m['clip_benchmark_image_encodes'])} images, "
            f"{_duration(m['clip_benchmark_seconds'])})"
        )
    lines.append("")
    rows = [
        ("", "zsbench", "CLIP_benchmark"),
        ("model loads", _num(t["model_loads"]), _num(cb["model_loads"])),
        ("checkpoint reads", _num(t["checkpoint_reads"]), _num(cb["checkpoint_reads"])),
        ("images encoded", _num(t["images_to_encode"]), _num(cb["image_encodes"])),
        ("image-tower compute", _tflops(t["tflops"]), _tflops(cb["tflops"])),
        ("estimated time", _duration(t["seconds"]), _duration(cb["seconds"])),
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    for r in rows:
        lines.append(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}")
    if t["possible_cache_hit_images"]:
        lines.append(f"possible cache hits: {_num(t['possible_cache_hit_images'])} of the images to encode")
    if t["missing_datasets"]:
        lines.append(f"not loaded (see each image set): {', '.join(t['missing_datasets'])}")
    lines.append("")
    lines.extend(f"note: {n}" for n in report["notes"])
    return "\n".join(lines)


# -- regression-suite cases ---------------------------------------------------------------------------------------
def cases_plan(
    expected_dir: str | Path,
    config: EvalConfig,
    *,
    data_root: str | Path,
    pretrained_dir: str | Path,
    published_only: bool = False,
) -> tuple[Plan, list[Any], list[str]]:
    """One plan for the snapshot cases under ``expected_dir``, each job built as the pytest plugin builds it.

    Returns the plan, the case of each job (in plan order) and one line per snapshot that is not a valid case.
    ``published_only`` keeps the seed README's published cases (not those of another document, such as the
    fine-tuned models' ``internvl_g/README.md``). Weights are never built: a
    ``builtin:`` value other than the packaged tiny model stays as written.
    """
    from zsbench.engine.snapshots import InvalidCase, from_seed_readme, scan_cases
    from zsbench.engine.weights import resolve_weights

    entries = scan_cases(expected_dir)
    if not entries:
        raise ZsbenchError(f"no snapshot files (*.json) under {expected_dir}; pass the folder of expected/ snapshots")
    invalid = [e.error for e in entries if isinstance(e, InvalidCase)]
    cases = [e for e in entries if not isinstance(e, InvalidCase) and (from_seed_readme(e) or not published_only)]
    plan = Plan()
    owners: list[Any] = []
    for case in cases:
        if case.pretrained.startswith("builtin:") and case.pretrained != "builtin:zsbench-tiny-shapes":
            pretrained = case.pretrained  # generated on first use; a plan does not build it
        else:
            pretrained = str(resolve_weights(case.pretrained, pretrained_dir, model_type=case.model_type,
                                             model=case.model))  # fmt: skip
        case_config = replace(
            config,
            model_type=case.model_type,
            models=[(case.model, pretrained)],
            datasets=[(case.dataset, case.language)],
            languages=[case.language],
            task=case.task,
            split=case.split,
            dataset_root=None if case.dataset_root is None else str(Path(data_root) / case.dataset_root),
            recall_k=list(case.recall_k or config.recall_k),
        )
        for job in build_plan(case_config).jobs:
            plan.jobs.append(job)
            owners.append(case)
    return plan, owners, invalid


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, default=str)


__all__ = [
    "OPEN_CLIP_GFLOPS",
    "THROUGHPUT_ASSUMPTION",
    "cases_plan",
    "default_throughput",
    "describe_plan",
    "format_text",
    "image_flops",
    "internvl_gflops",
    "report_json",
]
