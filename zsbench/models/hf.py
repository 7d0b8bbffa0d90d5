"""``--model_type hf``: transformers ``CLIPModel`` / ``SiglipModel`` from a local folder (``save_pretrained`` layout).

Loaded with ``local_files_only=True`` and never ``trust_remote_code`` (a folder whose configs carry an
``auto_map`` is refused). The weight files are checked before the model is built (safetensors headers against the
file sizes, ``.bin`` files only through ``torch.load(weights_only=True)``), and a checkpoint with missing,
unexpected or mis-shaped keys is refused, never evaluated with random weights. Embeddings are ``get_image_features`` /
``get_text_features``; texts are tokenized the way each family was trained (CLIP: pad to the longest, truncate
at 77; SigLIP: pad to ``max_length`` 64, which SigLIP's text tower needs because it pools the last token).
The image transform is the folder's preprocessor config reproduced with torchvision, checked in the tests to
match the HF image processor; processors that cannot be reproduced are wrapped as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zsbench.errors import CheckpointError, UnknownNameError, ZsbenchError
from zsbench.models.base import ModelIdentity, ZeroShotModel, resolve_precision, weights_fingerprint
from zsbench.models.checkpoints import allowed, first_line, hf_weight_files, key_problems

SUPPORTED = ("clip", "siglip")
CLIP_MAX_LENGTH = 77
SIGLIP_MAX_LENGTH = 64
# Checkpoint keys that no CLIP/SigLIP embedding depends on: position_ids buffers that transformers < 4.31 saved
# (now computed, non-persistent). Any other unexpected key means the folder is not what its config says.
HARMLESS_UNEXPECTED = ("*.position_ids",)
# Files whose ``auto_map`` would point transformers at Python code shipped in the folder.
_AUTO_MAP_FILES = ("config.json", "tokenizer_config.json", "preprocessor_config.json", "processor_config.json")


class TorchvisionProcessor:
    """A CLIP/SigLIP image processor (torchvision backend) reproduced as a PIL -> (C, H, W) float transform.

    Same operations in the same order as transformers' ``TorchvisionBackend``: uint8 tensor, resize with
    antialias (torchvision.transforms.v2, whose uint8 bicubic differs from v1's by up to a few levels), centre
    crop, then one fused rescale+normalise in float32.
    """

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg

    def __call__(self, image: Any) -> Any:
        import numpy as np
        import torch
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms.v2 import functional as tvF  # what transformers uses (its uint8 resize differs)

        c = self.cfg
        x = torch.from_numpy(np.array(image.convert("RGB") if c["do_convert_rgb"] else image))
        # Same layout, batch shape and (v2) functional ops as transformers, so the uint8 resize rounds identically.
        x = x.permute(2, 0, 1).contiguous()
        if c["do_resize"]:
            h, w = x.shape[-2:]
            size = c["size"]
            if "shortest_edge" in size:  # transformers' get_resize_output_image_size(default_to_square=False)
                short, long = (w, h) if w <= h else (h, w)
                new_short, new_long = size["shortest_edge"], int(size["shortest_edge"] * long / short)
                new = (new_long, new_short) if w <= h else (new_short, new_long)
            else:
                new = (size["height"], size["width"])
            interp = {2: InterpolationMode.BILINEAR, 3: InterpolationMode.BICUBIC, 0: InterpolationMode.NEAREST}
            x = tvF.resize(x[None], list(new), interpolation=interp[c["resample"]], antialias=True)[0]
        if c["do_center_crop"]:
            ch, cw = c["crop_size"]["height"], c["crop_size"]["width"]
            h, w = x.shape[-2:]
            if ch > h or cw > w:  # torchvision pads like transformers does (fill 0)
                x = tvF.center_crop(x, [ch, cw])
            else:
                top, left = int((h - ch) / 2.0), int((w - cw) / 2.0)
                x = tvF.crop(x, top, left, ch, cw)
        x = x.to(torch.float32)
        if c["do_rescale"] and c["do_normalize"]:  # fused exactly as transformers fuses it
            mean = torch.tensor(c["image_mean"]) * (1.0 / c["rescale_factor"])
            std = torch.tensor(c["image_std"]) * (1.0 / c["rescale_factor"])
            x = tvF.normalize(x, mean.tolist(), std.tolist())
        elif c["do_rescale"]:
            x = x * c["rescale_factor"]
        elif c["do_normalize"]:
            x = tvF.normalize(x, c["image_mean"], c["image_std"])
        return x

    def __repr__(self) -> str:
        return f"TorchvisionProcessor({self.cfg})"


class WrappedProcessor:
    """Fallback: the HF image processor itself as a PIL -> (C, H, W) transform."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    def __call__(self, image: Any) -> Any:
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]

    def __repr__(self) -> str:
        return f"WrappedProcessor({type(self.processor).__name__})"


def processor_config(processor: Any) -> dict[str, Any] | None:
    """The settings :class:`TorchvisionProcessor` needs, or None if ``processor`` is something else."""
    if getattr(processor, "backend", None) != "torchvision" or getattr(processor, "do_pad", False):
        return None
    resample = int(getattr(processor.resample, "value", processor.resample))
    if resample not in (0, 2, 3):
        return None
    size = {k: v for k, v in dict(processor.size).items() if v is not None}
    crop = {k: v for k, v in dict(processor.crop_size or {}).items() if v is not None}
    if not (size.keys() == {"shortest_edge"} or size.keys() == {"height", "width"}):
        return None
    return {
        "do_convert_rgb": bool(processor.do_convert_rgb),
        "do_resize": bool(processor.do_resize),
        "size": size,
        "resample": resample,
        "do_center_crop": bool(getattr(processor, "do_center_crop", False)),
        "crop_size": crop,
        "do_rescale": bool(processor.do_rescale),
        "rescale_factor": float(processor.rescale_factor),
        "do_normalize": bool(processor.do_normalize),
        "image_mean": [float(v) for v in processor.image_mean],
        "image_std": [float(v) for v in processor.image_std],
    }


def load(
    model: str,
    pretrained: str,
    *,
    device: str = "cpu",
    precision: str = "auto",
    cache_dir: str | None = None,
    **options: Any,
) -> ZeroShotModel:
    """Load a transformers CLIP/SigLIP folder (``pretrained``; ``model`` is only a label, or the folder itself)."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoTokenizer

    if options:
        raise ZsbenchError(f"unknown hf option(s) {', '.join(sorted(options))}; the hf adapter takes none")
    prec = resolve_precision(precision, device)
    folder = Path(pretrained or model).expanduser()
    if not folder.is_dir() and model and (Path(model).expanduser() / "config.json").is_file():
        # `--model FOLDER` alone: the CLI fills --pretrained with CLIP_benchmark's default tag, not a folder
        folder = Path(model).expanduser()
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{folder} is not a transformers model folder (no config.json); pass it as --pretrained")
    _refuse_remote_code(folder)
    kw = {"local_files_only": True, "trust_remote_code": False}
    try:
        config = AutoConfig.from_pretrained(folder, **kw)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read {folder}/config.json: {str(e).splitlines()[0]}") from e
    family = config.model_type
    if family not in SUPPORTED:
        raise UnknownNameError(
            f"unsupported hf model_type {family!r} in {folder}; valid choices: {', '.join(SUPPORTED)}"
        )
    # Cheap checks before any model is built: safetensors headers against file sizes, .bin files through the
    # weights-only unpickler (so transformers' own torch.load, whatever its version does, only sees safe files).
    _, safetensors = hf_weight_files(folder, explicit=getattr(config, "transformers_weights", None) or None)
    try:
        with _quiet_transformers():
            module, info = AutoModel.from_pretrained(
                folder,
                dtype=torch.float32,
                use_safetensors=safetensors,  # read exactly the files checked above
                output_loading_info=True,
                ignore_mismatched_sizes=True,  # report mis-shaped keys in `info` (refused below), not as a table
                **kw,
            )
        _check_loading_info(info, folder, family)
        tokenizer = AutoTokenizer.from_pretrained(folder, **kw)
        processor = AutoImageProcessor.from_pretrained(folder, **kw)
    except (OSError, ValueError, ImportError, RuntimeError) as e:  # ImportError: e.g. SiglipTokenizer w/o protobuf
        raise CheckpointError(f"cannot load {family} model from {folder}: {first_line(e)}") from e
    module.eval()
    module.to(device=device, dtype=prec.weights_dtype)

    positions = int(getattr(config.text_config, "max_position_embeddings", 10**9))
    if family == "siglip":
        # SigLIP pools the last token and was trained on max_length-padded text without an attention mask.
        tok_kw: dict[str, Any] = {"padding": "max_length", "max_length": min(SIGLIP_MAX_LENGTH, positions)}
        keep = ("input_ids",)
    else:
        tok_kw = {"padding": True, "max_length": min(CLIP_MAX_LENGTH, positions)}
        keep = ("input_ids", "attention_mask")
    tok_kw["truncation"] = True

    def tokenize(texts: list[str]) -> dict[str, Any]:
        enc = tokenizer(list(texts), return_tensors="pt", **tok_kw)
        return {k: enc[k] for k in keep if k in enc}

    pp_cfg = processor_config(processor)
    transform: Any = TorchvisionProcessor(pp_cfg) if pp_cfg is not None else WrappedProcessor(processor)

    def image_fn(pixels: Any) -> Any:
        return _features(module.get_image_features(pixel_values=pixels))

    def text_fn(tokens: dict[str, Any]) -> Any:
        return _features(module.get_text_features(**tokens))

    identity = ModelIdentity(
        model_type="hf",
        architecture=type(module).__name__,  # the class AutoModel built (CLIPModel, SiglipModel)
        pretrained=str(folder),
        weights=weights_fingerprint(folder, "folder"),
        preprocess={"kind": type(transform).__name__, "config": pp_cfg or processor.to_dict()},
        tokenizer={"class": type(tokenizer).__name__, **tok_kw, "inputs": list(keep)},
        library={"transformers": transformers.__version__},
        extra={"family": family, "config_architectures": list(getattr(config, "architectures", None) or [])},
    )
    return ZeroShotModel(
        name=model,
        model_type="hf",
        pretrained=str(folder),
        transform=transform,
        tokenize_fn=tokenize,
        image_fn=image_fn,
        text_fn=text_fn,
        device=device,
        precision=prec,
        identity=identity,
        module=module,
    )


def _refuse_remote_code(folder: Path) -> None:
    """Refuse a folder whose configs point at its own Python code (``auto_map``): zsbench never runs it.

    transformers with ``trust_remote_code=False`` would not run it either, but would quietly load the stock class
    instead of the one the folder's author meant, which may compute different embeddings.
    """
    import json

    for name in _AUTO_MAP_FILES:
        f = folder / name
        if not f.is_file():
            continue
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise CheckpointError(f"cannot read {f}: {first_line(e)}") from e
        if isinstance(data, dict) and data.get("auto_map"):
            targets = sorted({str(v) for v in _flatten(data["auto_map"]) if v})
            raise CheckpointError(
                f"{f} has an auto_map pointing at custom code in the folder ({', '.join(targets)}); zsbench never "
                "runs code from a model folder: use a standard transformers CLIP/SigLIP folder (or remove auto_map "
                "if the weights are a stock CLIPModel/SiglipModel)"
            )


def _flatten(v: Any) -> list[Any]:
    if isinstance(v, dict):
        return [x for item in v.values() for x in _flatten(item)]
    if isinstance(v, list | tuple):
        return [x for item in v for x in _flatten(item)]
    return [v]


def _check_loading_info(info: dict[str, Any], folder: Path, family: str) -> None:
    """Refuse a checkpoint that left weights randomly initialised, had unknown keys, or keys of the wrong shape."""
    missing = sorted(info.get("missing_keys") or ())
    unexpected = sorted(k for k in info.get("unexpected_keys") or () if not allowed(k, HARMLESS_UNEXPECTED))
    wrong = [(k, tuple(a), tuple(b)) for k, a, b in sorted(info.get("mismatched_keys") or ())]
    problems = key_problems(missing, unexpected, wrong)
    errors = [first_line(m) for m in info.get("error_msgs") or ()]
    if errors:
        problems.append(f"load errors: {errors[0]}")
    if problems:
        raise CheckpointError(
            f"{folder} does not match its {family} config: {'; '.join(problems)}. zsbench does not evaluate "
            "randomly initialised weights; is the checkpoint complete and the right one for config.json?"
        )


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No load-report table or progress bar on stderr while loading (errors are zsbench's one line)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _features(out: Any) -> Any:
    # transformers >= 5 returns a ModelOutput whose pooler_output is the projected embedding; older, a tensor.
    return out if hasattr(out, "dim") else out.pooler_output
