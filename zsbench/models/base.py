"""The narrow model protocol every adapter implements, and the precision policy they share.

The engine only ever calls ``transform``, ``tokenize``, ``encode_image`` and ``encode_text``; adapters move
inputs to their device and return float32 embeddings on the CPU-independent device of the model (not
normalised: the tasks normalise, exactly as CLIP_benchmark does). A generative model (open_clip CoCa) also has a
:class:`CaptionGenerator`: ``generate_captions`` and ``decode_captions`` (``--task captioning``); every other
model refuses them in one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from zsbench.errors import ZsbenchError

PRECISIONS = ("auto", "amp", "amp_fp16", "amp_bf16", "fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Precision:
    """How a model runs: the dtype its weights are cast to and the autocast dtype (None = no autocast)."""

    name: str
    weights: str  # "fp32" | "fp16" | "bf16"
    autocast: str | None  # None | "fp16" | "bf16"

    @property
    def weights_dtype(self) -> Any:
        import torch

        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.weights]

    def autocast_context(self, device_type: str) -> contextlib.AbstractContextManager[Any]:
        import torch

        if self.autocast is None:
            return contextlib.nullcontext()
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[self.autocast]
        return torch.autocast(device_type=device_type, dtype=dtype)


def resolve_precision(name: str, device: str, *, gpu_default: str = "amp") -> Precision:
    """Turn a ``--precision`` value into a :class:`Precision` for ``device``.

    ``amp`` is CLIP_benchmark's behaviour: autocast with the device's default dtype (fp16 on CUDA, bf16 on
    CPU). ``auto`` is zsbench's default: ``gpu_default`` on CUDA (bf16 autocast where the GPU supports it), and
    plain fp32 on the CPU, where bf16 autocast is slower on most CPUs and moves the metrics.
    """
    if name not in PRECISIONS:
        raise ZsbenchError(f"unknown precision {name!r}; valid choices: {', '.join(PRECISIONS)}")
    device_type = device.split(":")[0]
    if name == "auto":
        if device_type != "cuda":
            return Precision("fp32", "fp32", None)
        name = gpu_default
        if name == "amp":
            import torch

            name = "amp_bf16" if torch.cuda.is_bf16_supported() else "amp_fp16"
    if name == "amp":
        name = "amp_fp16" if device_type == "cuda" else "amp_bf16"
    table = {
        "fp32": ("fp32", None),
        "fp16": ("fp16", None),
        "bf16": ("bf16", None),
        "amp_fp16": ("fp32", "fp16"),
        "amp_bf16": ("fp32", "bf16"),
    }
    weights, autocast = table[name]
    return Precision(name, weights, autocast)


def fingerprint_path(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Identity of a weights file or folder for cache keys, cheap even for a 25 GB checkpoint.

    Files up to 64 MiB are hashed whole; larger ones by size, mtime and the first and last 4 MiB. A folder
    is the combination of its files' fingerprints.
    """
    p = Path(path)
    if p.is_dir():
        parts = {str(f.relative_to(p)): fingerprint_path(f)["sha256"] for f in sorted(p.rglob("*")) if f.is_file()}
        digest = hashlib.sha256(repr(sorted(parts.items())).encode()).hexdigest()
        return {"path": str(p), "kind": "folder", "sha256": digest}
    st = p.stat()
    h = hashlib.sha256()
    chunk = 4 << 20
    with open(p, "rb") as f:
        if st.st_size <= 64 << 20:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
            kind = "full"
        else:
            h.update(f.read(chunk))
            f.seek(st.st_size - chunk)
            h.update(f.read(chunk))
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
            kind = "head+tail+size+mtime"
    return {"path": str(p), "kind": kind, "sha256": h.hexdigest(), "size": st.st_size}


def weights_fingerprint(path: str | os.PathLike[str], source: str) -> dict[str, Any]:
    """``{"source": source, **fingerprint_path(path)}``: the ``weights`` of a :class:`ModelIdentity` read from disk."""
    return {"source": source, **fingerprint_path(path)}


_MAPPING_FIELDS = ("weights", "preprocess", "tokenizer", "options", "library", "extra")


def _freeze(v: Any) -> Any:
    """Read-only JSON-like copy: mappings -> read-only mappings with str keys, lists/tuples -> tuples, str/int/
    float subclasses (enums) -> their plain value, anything else -> ``str(v)``: what ``json.dumps(default=str)``
    writes, so the identity in memory is the one in cache keys and result files."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, Mapping):
        return MappingProxyType({_freeze(k) if isinstance(k, str) else str(k): _freeze(x) for k, x in v.items()})
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    return str(v)


def _thaw(v: Any) -> Any:
    """Plain dicts and lists again (what ``json.dumps`` and the result files expect)."""
    if isinstance(v, Mapping):
        return {k: _thaw(x) for k, x in v.items()}
    if isinstance(v, tuple | list):
        return [_thaw(x) for x in v]
    return v


@dataclass(frozen=True)
class ModelIdentity:
    """Everything a model's embeddings depend on, with the same fields for every adapter.

    It is part of every embedding-cache key and recorded in each result's provenance, so two models that could
    compute different embeddings must never have equal identities. Family-specific facts go in ``extra``, never in
    new top-level keys, so tools reading results see one schema whatever the ``--model_type``.

    Attributes:
        model_type: the registry key (``open_clip``, ``hf``, ``internvl``; ``fake`` in tests).
        architecture: what was built: the open_clip model name, the transformers class, the InternVL adapter.
        pretrained: the weights as the user gave them (tag, file, folder; ``""`` for random weights).
        weights: the weights' fingerprint; always has ``source`` (``file``, ``folder``, ``local-dir``, ``tag``,
            ``hf-hub``, ``random``); read from disk it is :func:`fingerprint_path` (``path``, ``kind``, ``sha256``,
            ``size`` for files), a tag or hub repo names it, random weights give their seed.
        preprocess: the image transform's settings (size, mean/std, interpolation, ...).
        tokenizer: the tokenizer class or file (with its sha256), context length, padding.
        options: the loader options the user set (``--model_option``-style keywords), JSON-able.
        library: versions of the libraries that compute the embeddings (``{"open_clip": "3.3.0"}``).
        extra: anything else the family's embeddings depend on (InternVL's mode and config, hf's model family).

    Nested values are frozen (read-only mappings, tuples); :meth:`as_dict` gives plain JSON-able dicts and lists.
    """

    model_type: str
    architecture: str
    pretrained: str
    weights: Mapping[str, Any]
    preprocess: Mapping[str, Any]
    tokenizer: Mapping[str, Any]
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    library: Mapping[str, str] = dataclasses.field(default_factory=dict)
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.field_names():
            value = getattr(self, name)
            if name in _MAPPING_FIELDS:
                if not isinstance(value, Mapping):
                    raise TypeError(f"ModelIdentity.{name} must be a mapping, not {type(value).__name__}")
                object.__setattr__(self, name, _freeze(value))
            elif not isinstance(value, str):
                raise TypeError(f"ModelIdentity.{name} must be a str, not {type(value).__name__}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The top-level keys of :meth:`as_dict`, in order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def as_dict(self) -> dict[str, Any]:
        """A fresh plain-dict copy (JSON-able): what cache keys and result provenance hold."""
        return {name: _thaw(getattr(self, name)) for name in self.field_names()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **defaults: str) -> ModelIdentity:
        """Inverse of :meth:`as_dict`. Keys that are not fields are kept in ``extra`` (so nothing that was part of
        an identity is dropped); missing string fields come from ``defaults``, missing mappings are empty."""
        names = cls.field_names()
        kw: dict[str, Any] = {}
        for name in names:
            if name in data:
                kw[name] = data[name]
            else:
                kw[name] = {} if name in _MAPPING_FIELDS else str(defaults.get(name, ""))
        unknown = {k: v for k, v in data.items() if k not in names}
        if unknown:
            kw["extra"] = {**kw["extra"], **unknown}
        return cls(**kw)

    def replace(self, **changes: Any) -> ModelIdentity:
        """A copy with some fields changed, e.g. ``ident.replace(extra={**ident.extra, "compiled": True})``."""
        return dataclasses.replace(self, **changes)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`as_dict` (equal identities, equal digests)."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True, default=str).encode()).hexdigest()

    def __hash__(self) -> int:  # the nested read-only mappings are not hashable themselves
        return hash(self.digest())

    def __reduce__(self) -> tuple[Any, ...]:  # read-only mappings do not pickle; plain dicts do
        return (_identity_from_dict, (self.as_dict(),))


def _identity_from_dict(data: dict[str, Any]) -> ModelIdentity:
    return ModelIdentity.from_dict(data)


@dataclass(frozen=True)
class CaptionGenerator:
    """How a generative model captions images (``--task captioning``).

    Attributes:
        generate: pixels (B, C, H, W) on the model's device -> (B, L) int64 token ids, every row padded to the same
            ``L`` for every batch (so batches concatenate, cache and gather like embeddings); called under the
            model's precision.
        decode: (N, L) token ids on the CPU -> N caption strings.
        settings: the generation and decoding settings (JSON-able); part of the cache key and recorded in results.
    """

    generate: Callable[[Any], Any]
    decode: Callable[[Any], list[str]]
    settings: Mapping[str, Any]


class ZeroShotModel:
    """A loaded model, ready for the engine.

    Attributes:
        name: ``model`` as the user gave it (e.g. ``ViT-B-32`` or ``internvl_c_retrieval``).
        model_type: the registry key (``open_clip``, ``hf``, ``internvl``).
        pretrained: as the user gave it.
        transform: PIL image -> float tensor (C, H, W).
        tokenize_fn: list of texts -> token batch (a tensor or a dict of tensors), on the CPU.
        image_fn / text_fn: batch on ``device`` -> embeddings; called under the precision's autocast.
        device: torch device string.
        precision: the resolved precision.
        ident: the typed :class:`ModelIdentity` (weights fingerprint, architecture, preprocessing, tokenizer);
            part of every cache key and recorded in results.
        identity: ``ident.as_dict()``, the plain-dict view the engine puts in cache keys and provenance; assigning a
            dict replaces ``ident`` (keys that are not :class:`ModelIdentity` fields land in ``extra``).
        module: the underlying ``torch.nn.Module`` (for ``.eval()``, parameter counts, ``torch.compile``).
        generator: how the model captions images; ``None`` for a model that cannot (every CLIP-like model).
    """

    def __init__(
        self,
        name: str,
        model_type: str,
        pretrained: str,
        transform: Callable[[Any], Any],
        tokenize_fn: Callable[[Sequence[str]], Any],
        image_fn: Callable[[Any], Any],
        text_fn: Callable[[Any], Any],
        device: str,
        precision: Precision,
        identity: ModelIdentity | Mapping[str, Any] | None = None,
        module: Any = None,
        generator: CaptionGenerator | None = None,
    ) -> None:
        self.name = name
        self.model_type = model_type
        self.pretrained = pretrained
        self.transform = transform
        self.tokenize_fn = tokenize_fn
        self.image_fn = image_fn
        self.text_fn = text_fn
        self.device = device
        self.precision = precision
        self.module = module
        self.generator = generator
        self.ident = self._as_identity(identity if identity is not None else {})

    def _as_identity(self, value: ModelIdentity | Mapping[str, Any]) -> ModelIdentity:
        if isinstance(value, ModelIdentity):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"identity must be a ModelIdentity or a mapping, not {type(value).__name__}")
        # A bare mapping (test doubles, benchmarks) still names the model: never an empty, shared cache identity.
        return ModelIdentity.from_dict(
            value, model_type=self.model_type, architecture=self.name, pretrained=self.pretrained
        )

    @property
    def identity(self) -> dict[str, Any]:
        """``ident.as_dict()``: a fresh plain dict each time (mutating it does not change the model)."""
        return self.ident.as_dict()

    @identity.setter
    def identity(self, value: ModelIdentity | Mapping[str, Any]) -> None:
        self.ident = self._as_identity(value)

    def __repr__(self) -> str:
        return (
            f"ZeroShotModel(name={self.name!r}, model_type={self.model_type!r}, pretrained={self.pretrained!r}, "
            f"device={self.device!r}, precision={self.precision.name!r})"
        )

    def tokenize(self, texts: Sequence[str]) -> Any:
        return self.tokenize_fn(list(texts))

    @contextlib.contextmanager
    def _running(self) -> Iterator[None]:
        import torch

        with torch.inference_mode(), self.precision.autocast_context(self.device.split(":")[0]):
            yield

    def encode_image(self, pixels: Any) -> Any:
        """Image embeddings (float32, not normalised) for a (B, C, H, W) batch."""
        pixels = pixels.to(self.device, dtype=self.precision.weights_dtype, non_blocking=True)
        with self._running():
            return self.image_fn(pixels).float()

    def encode_text(self, tokens: Any) -> Any:
        """Text embeddings (float32, not normalised) for what :meth:`tokenize` returned."""
        tokens = _to_device(tokens, self.device)
        with self._running():
            return self.text_fn(tokens).float()

    # -- captioning (generative models only) -----------------------------------------------------------------
    @property
    def can_generate(self) -> bool:
        """Whether the model generates captions (``--task captioning``)."""
        return self.generator is not None

    def _require_generator(self) -> CaptionGenerator:
        if self.generator is None:
            raise ZsbenchError(
                f"{self.model_type} model {self.name!r} does not generate captions; --task captioning needs a "
                "generative model (an open_clip CoCa, e.g. --model coca_ViT-B-32)"
            )
        return self.generator

    @property
    def generation_settings(self) -> dict[str, Any]:
        """The generation and decoding settings (a plain dict; refused in one line for a non-generative model)."""
        return _thaw(_freeze(self._require_generator().settings))

    def generate_captions(self, pixels: Any) -> Any:
        """Generated token ids, (B, L) int64 on the CPU-independent device of the model, for a (B, C, H, W) batch."""
        generator = self._require_generator()
        pixels = pixels.to(self.device, dtype=self.precision.weights_dtype, non_blocking=True)
        with self._running():
            return generator.generate(pixels).long()

    def decode_captions(self, tokens: Any) -> list[str]:
        """The captions of :meth:`generate_captions`'s token ids (one string per row)."""
        return list(self._require_generator().decode(tokens.cpu()))


def _to_device(batch: Any, device: str) -> Any:
    if isinstance(batch, dict):
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    if hasattr(batch, "to"):
        return batch.to(device, non_blocking=True)
    return batch


ModelLoader = Callable[..., ZeroShotModel]
"""Signature: ``load(model, pretrained, *, device, precision, cache_dir=None, **options) -> ZeroShotModel``."""
