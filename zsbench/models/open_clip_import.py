"""Importing open_clip without the libraries a plain CLIP model never uses (a cold-start lever, on by default).

``import open_clip`` also imports transformers (for Hugging Face text towers and CoCa's beam search), timm (for timm
image towers) and, through ``torchvision.ops``, ``torch._dynamo`` (with sympy and triton): on a 2-core CPU that is
over half of the whole import (about 5 of 9 CPU seconds measured in ``benchmarks/perf/levers.py``), before the first
image is read. open_clip treats transformers and timm as optional (it catches their ``ImportError``), and
torchvision needs one function of ``torch._dynamo.utils`` at import time, so when the model about to load is a plain
CLIP (no ``timm_model_name``, no ``hf_model_name``, no CoCa ``multimodal_cfg`` in its architecture config), open_clip
is imported with transformers and timm hidden and ``torch._dynamo`` replaced by a stand-in that imports the real
module the moment anything but that one function is asked of it. Nothing about the computation changes: the same
classes, weights and kernels run (tests/engine/test_cpu_levers.py checks the embeddings are bit-identical and that
the libraries stay unloaded).

A later model that needs them (a CoCa, an HF text tower, a timm tower) or a caller that asks (:func:`ensure_full`)
gets them: the real libraries are imported and open_clip's three modules that hold them are re-executed in place.
Only processes that ask for it (:func:`enable_light_imports`: the ``zsbench`` CLI) import light; the Python API
imports open_clip the ordinary way.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

_OPTIONAL = ("transformers", "timm")
# open_clip's modules that bind the optional libraries at import time (re-executed by ensure_full).
_BINDING_MODULES = ("open_clip.hf_model", "open_clip.timm_model", "open_clip.coca_model")
_DYNAMO = ("torch._dynamo", "torch._dynamo.utils")
_LIGHT_FLAG = "_zsbench_light_import"  # set on the open_clip module when it was imported light
_enabled = False  # set by enable_light_imports(): the CLI's processes, not a library caller's
LOCAL_DIR = "local-dir:"
HF_HUB = "hf-hub:"


def model_config(model: str, pretrained: str | None = "") -> dict[str, Any] | None:
    """The open_clip architecture config of ``model`` read from its JSON file, without importing open_clip; None
    when it cannot be known before loading (``hf-hub:``, unknown names, unreadable folders)."""
    pretrained = (pretrained or "").strip()
    folder = None
    for value in (pretrained, model):
        if value.startswith(LOCAL_DIR):
            folder = Path(value[len(LOCAL_DIR) :]).expanduser()
    if folder is None and pretrained and (Path(pretrained).expanduser() / "open_clip_config.json").is_file():
        folder = Path(pretrained).expanduser()
    if folder is not None:
        return _read_json(folder / "open_clip_config.json", "model_cfg")
    if model.startswith(HF_HUB):
        return None
    from zsbench.models.tiny import CONFIG_DIR

    name = model.replace("/", "-")
    candidates = [CONFIG_DIR / f"{name}.json"]
    spec = importlib.util.find_spec("open_clip")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidates.append(Path(location) / "model_configs" / f"{name}.json")
    for path in candidates:
        if path.is_file():
            return _read_json(path, None)
    return None


def _read_json(path: Path, key: str | None) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if key is not None:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else None


def is_plain(config: dict[str, Any] | None) -> bool:
    """Whether an architecture config builds with neither transformers nor timm: no CoCa decoder, no timm image
    tower, no Hugging Face text tower (an HF tokenizer alone is fine: open_clip imports it when it is created)."""
    if not isinstance(config, dict) or "multimodal_cfg" in config:
        return False
    vision, text = config.get("vision_cfg") or {}, config.get("text_cfg") or {}
    if not isinstance(vision, dict) or not isinstance(text, dict):
        return False
    return not vision.get("timm_model_name") and not text.get("hf_model_name")


def enable_light_imports() -> None:
    """Let :func:`import_for` import open_clip light in this process. The CLI calls it: its process exists for the
    run. A program using zsbench as a library keeps ordinary imports unless it calls this first (it then gets the
    libraries back through :func:`ensure_full`, but code of its own that patched open_clip's optional-library
    modules before that would see them re-executed)."""
    global _enabled
    _enabled = True


def import_for(model: str, pretrained: str | None = "") -> types.ModuleType:
    """``open_clip``, imported light when enabled (:func:`enable_light_imports`), ``model`` is a plain CLIP and
    nothing imported open_clip yet; complete (see :func:`ensure_full`) when the model needs transformers or timm."""
    plain = is_plain(model_config(model, pretrained))
    if _enabled and plain and "open_clip" not in sys.modules:
        return _light_import()
    if not plain:
        ensure_full()
    return _ordinary_import()


def _ordinary_import() -> types.ModuleType:
    return importlib.import_module("open_clip")


def is_light() -> bool:
    """Whether the open_clip in this process was imported without its optional libraries."""
    module = sys.modules.get("open_clip")
    return bool(module is not None and getattr(module, _LIGHT_FLAG, False))


def ensure_full() -> None:
    """Give a light-imported open_clip its optional libraries (no-op otherwise): transformers and timm are
    imported, and the open_clip modules that bind them at import time are re-executed in place, so their classes
    (already referenced elsewhere in open_clip) see the libraries through their module globals."""
    module = sys.modules.get("open_clip")
    if module is None or not getattr(module, _LIGHT_FLAG, False):
        return
    for name in _OPTIONAL:
        with contextlib.suppress(ImportError):  # not installed: open_clip's own fallbacks apply, as usual
            importlib.import_module(name)
    for name in _BINDING_MODULES:
        if name in sys.modules:
            importlib.reload(sys.modules[name])
    setattr(module, _LIGHT_FLAG, False)


class _DynamoStandIn(types.ModuleType):
    """``torch._dynamo`` / ``torch._dynamo.utils`` while open_clip imports: any attribute is looked up on the real
    module, which is imported on first use (the stand-ins leave ``sys.modules`` first)."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        _remove_stand_ins()
        return getattr(importlib.import_module(self.__name__), attr)


def _is_compile_supported(device_type: Any) -> Any:
    # torchvision.ops.roi_align binds this at import time and calls it only when running roi_align.
    from torch._dynamo.utils import is_compile_supported

    return is_compile_supported(device_type)


def _remove_stand_ins() -> None:
    for name in _DYNAMO:
        if isinstance(sys.modules.get(name), _DynamoStandIn):
            del sys.modules[name]


def _light_import(package: str = "open_clip") -> types.ModuleType:
    """Import ``package`` (open_clip; another name in tests) with the optional libraries hidden and the
    ``torch._dynamo`` stand-ins in place."""
    import torch  # noqa: F401  (the real torch first: only its lazily imported _dynamo is stood in for)

    before = set(sys.modules)
    hidden = [name for name in _OPTIONAL if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import x" raises ImportError, as if not installed
    if "torch._dynamo" not in sys.modules:
        dynamo = _DynamoStandIn("torch._dynamo")
        dynamo.__path__ = []  # a package, so "torch._dynamo.utils" resolves to the stand-in below
        utils = _DynamoStandIn("torch._dynamo.utils")
        utils.is_compile_supported = _is_compile_supported  # type: ignore[attr-defined]
        sys.modules["torch._dynamo"], sys.modules["torch._dynamo.utils"] = dynamo, utils
    try:
        module = importlib.import_module(package)
    except Exception:
        module = None
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
        _remove_stand_ins()
    if module is None:
        # An open_clip or torchvision release that needs more at import time: forget the partial import and import
        # it the ordinary way (any error is then open_clip's own).
        for name in set(sys.modules) - before:
            if name == package or name.startswith(package + "."):
                del sys.modules[name]
        return importlib.import_module(package)
    setattr(module, _LIGHT_FLAG, bool(hidden))
    return module
