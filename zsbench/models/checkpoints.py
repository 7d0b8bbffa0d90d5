"""Reading checkpoint files safely, with one-line errors that name the file and say what to do.

Shared by every adapter (open_clip files, transformers folders, InternVL .pth and HF folders):

- no code from data: pickle-based files (``.pth``, ``.pt``, ``.bin``, zip or legacy format) are read only with
  ``torch.load(weights_only=True)``, whatever the installed open_clip or transformers would do; a file that holds
  Python objects is refused with how to convert it;
- cheap checks first: a safetensors header (length, JSON, tensor offsets against the file size) is validated
  without reading tensor data, so a truncated download is refused before any model is built;
- key checks that name the missing, unexpected and mis-shaped keys (the first few and the count).

Nothing here imports torch at module level (``zsbench.models`` must stay light to import).
"""

from __future__ import annotations

import fnmatch
import json
import re
import struct
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zsbench.errors import CheckpointError

MAX_LISTED = 8
# The safetensors library refuses headers above 100 MB; a larger length field means garbage, not a big header.
_MAX_SAFETENSORS_HEADER = 100_000_000
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_PROTO = 0x80
_CONVERT_HINT = (
    "if you trust the file, load it once yourself and re-save only its tensors "
    "(torch.save(state_dict, 'weights.pth') or safetensors.torch.save_file(state_dict, 'weights.safetensors'))"
)
_REDOWNLOAD = "re-download or re-export it"

# transformers folder layouts, in the order transformers itself picks them.
HF_SAFE = "model.safetensors"
HF_SAFE_INDEX = "model.safetensors.index.json"
HF_BIN = "pytorch_model.bin"
HF_BIN_INDEX = "pytorch_model.bin.index.json"


def first_line(e: BaseException | str) -> str:
    """The first non-empty line of an exception message (library messages span lines; ours must not)."""
    text = str(e).strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return type(e).__name__ if isinstance(e, BaseException) else ""


def _reason(e: BaseException) -> str:
    """A library error cut to its first sentence, for the middle of our own line."""
    text = first_line(e)
    cut = text.find(". ")
    text = text[:cut] if cut > 0 else text.rstrip(".")
    return text if len(text) <= 160 else text[:157] + "..."


# -- key checks ------------------------------------------------------------------------------------------
def _natural(name: str) -> list[Any]:
    # blocks.2 before blocks.10, so the first listed keys are the first layers.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def listing(names: Iterable[str]) -> str:
    """``3: a, b, c`` or ``20: a, ..., h, ... (12 more)``: the count and the first few, in natural order."""
    names = sorted(names, key=_natural)
    shown = ", ".join(names[:MAX_LISTED])
    more = f", ... ({len(names) - MAX_LISTED} more)" if len(names) > MAX_LISTED else ""
    return f"{len(names)}: {shown}{more}"


def allowed(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def key_problems(
    missing: Iterable[str], unexpected: Iterable[str], wrong_shapes: Iterable[tuple[str, Any, Any]]
) -> list[str]:
    """Human-readable parts for each kind of mismatch; ``wrong_shapes`` holds (key, file shape, model shape)."""
    missing, unexpected = list(missing), list(unexpected)
    wrong = [f"{k} {list(found)} (expected {list(want)})" for k, found, want in wrong_shapes]
    problems = []
    if missing:
        problems.append(f"missing keys {listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {listing(unexpected)}")
    if wrong:
        problems.append(f"wrong shapes {listing(wrong)}")
    return problems


def check_keys(
    found: dict[str, tuple[int, ...]],
    expected: dict[str, tuple[int, ...]],
    *,
    source: str,
    what: str,
    allow_unexpected: Iterable[str] = (),
    hint: str | None = None,
) -> list[str]:
    """Return the file keys to load; raise naming every missing, unexpected or mis-shaped key."""
    allow = tuple(allow_unexpected)
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected and not allowed(k, allow)]
    wrong = [(k, found[k], expected[k]) for k in expected if k in found and tuple(found[k]) != tuple(expected[k])]
    problems = key_problems(missing, unexpected, wrong)
    if problems:
        if hint is None:
            hint = (
                "If the extra keys are harmless, pass ignore_unexpected=('pattern*', ...)."
                if unexpected and not missing and not wrong
                else "Is this the right checkpoint for this model?"
            )
        raise CheckpointError(f"{source} does not match {what}: {'; '.join(problems)}. {hint}")
    return [k for k in found if k in expected]


# -- safetensors -----------------------------------------------------------------------------------------
def is_safetensors(path: Path) -> bool:
    """True if the file starts like a safetensors file (8-byte header length, then a JSON object)."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 0 < n <= _MAX_SAFETENSORS_HEADER


def is_zip(path: Path) -> bool:
    """True if the file is a zip archive (the torch.save format since 1.6, which can be memory-mapped)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) in _ZIP_MAGIC
    except OSError:
        return False


def safetensors_header(path: str | Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Tensor name -> (dtype, shape) from a safetensors header, after checking that the file is complete.

    Reads only the header: a truncated or garbage file is refused before anything is built or read.
    """
    p = Path(path)
    bad = f"{p} is not a valid safetensors file"
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(8)
            if size == 0:
                raise CheckpointError(f"{p} is empty (0 bytes): the download or copy did not finish; {_REDOWNLOAD}")
            if len(head) < 8:
                raise CheckpointError(f"{bad} ({size} bytes, shorter than a header): {_REDOWNLOAD}")
            (n,) = struct.unpack("<Q", head)
            if n > _MAX_SAFETENSORS_HEADER:
                raise CheckpointError(f"{bad} (header length field {n} is garbage): {_REDOWNLOAD}")
            if 8 + n > size:
                raise CheckpointError(
                    f"{p} is truncated: its safetensors header needs {8 + n} bytes but the file has {size}; "
                    f"{_REDOWNLOAD}"
                )
            raw = f.read(n)
    except OSError as e:
        raise CheckpointError(f"cannot read {p}: {first_line(e)}") from e
    try:
        header = json.loads(raw.decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        out: dict[str, tuple[str, tuple[int, ...]]] = {}
        end = 0
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            begin, stop = (int(x) for x in entry["data_offsets"])
            shape = tuple(int(x) for x in entry["shape"])
            if stop < begin or begin < 0 or any(d < 0 for d in shape):
                raise ValueError(f"bad offsets or shape for {name}")
            end = max(end, stop)
            out[str(name)] = (str(entry["dtype"]), shape)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{bad} (corrupt header: {first_line(e)}): {_REDOWNLOAD}") from e
    have = size - 8 - n
    if end > have:
        raise CheckpointError(
            f"{p} is truncated: its header describes {end} bytes of tensor data but the file holds {have}; "
            f"{_REDOWNLOAD}"
        )
    if end < have:
        raise CheckpointError(f"{bad} ({have - end} bytes after the last tensor its header describes): {_REDOWNLOAD}")
    return out


def load_safetensors(path: str | Path) -> dict[str, Any]:
    """All tensors of a safetensors file (CPU), header checked first."""
    from safetensors.torch import load_file

    safetensors_header(path)
    try:
        return load_file(str(path), device="cpu")
    except Exception as e:  # the header was fine, so this is damage inside; still the file's problem
        raise CheckpointError(f"cannot read {path} as safetensors ({_reason(e)}): {_REDOWNLOAD}") from e


# -- pickle-based torch files ----------------------------------------------------------------------------
def _refused_detail(message: str) -> str:
    m = re.search(r"GLOBAL ([\w.]+)", message)
    if m:
        return m.group(1)
    m = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", message)
    return m.group(1).strip() if m else "objects torch's safe loader does not allow"


def load_torch_file(path: str | Path, *, mmap: bool = True) -> Any:
    """``torch.load(path, weights_only=True)`` (memory-mapped when the file is a zip archive), or a one-line error.

    Never unpickles code: anything beyond tensors and plain containers is refused with how to convert the file.
    """
    import pickle

    import torch

    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise CheckpointError(f"cannot read {p}: {first_line(e)}") from e
    if size == 0:
        raise CheckpointError(f"{p} is empty (0 bytes): the download or copy did not finish; {_REDOWNLOAD}")
    is_zip = head in _ZIP_MAGIC
    if not is_zip and (not head or head[0] != _PICKLE_PROTO):
        raise CheckpointError(
            f"{p} is neither a PyTorch checkpoint (torch.save zip archive or pickle) nor a safetensors file: "
            f"{_REDOWNLOAD}"
        )
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": stderr must stay one line
            warnings.simplefilter("ignore")
            return torch.load(p, map_location="cpu", weights_only=True, mmap=mmap and is_zip)
    except pickle.UnpicklingError as e:
        if "weights only load failed" in str(e).lower():
            raise CheckpointError(
                f"{p} holds pickled Python objects ({_refused_detail(str(e))}) that zsbench will not execute "
                f"(it reads checkpoints with torch.load(weights_only=True)); {_CONVERT_HINT}"
            ) from e
        raise CheckpointError(f"{p} is truncated or corrupt ({_reason(e)}); {_REDOWNLOAD}") from e
    except RuntimeError as e:
        if "torchscript" in str(e).lower():
            raise CheckpointError(
                f"{p} is a TorchScript archive, which holds code; zsbench will not run it: {_CONVERT_HINT}"
            ) from e
        raise CheckpointError(f"{p} is truncated or corrupt ({_reason(e)}); {_REDOWNLOAD}") from e
    except Exception as e:  # EOFError, ValueError, struct.error...: a damaged file, the user's to fix
        raise CheckpointError(f"{p} is truncated or corrupt ({type(e).__name__}: {_reason(e)}); {_REDOWNLOAD}") from e


def as_state_dict(obj: Any, path: str | Path) -> dict[str, Any]:
    """The flat name -> tensor dict inside a loaded checkpoint (open_clip's unwrapping: ``state_dict``, ``module.``)."""
    import torch

    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # the training-checkpoint wrapper
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a state dict of tensors")
    odd = [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if odd:
        raise CheckpointError(
            f"{path} is not a flat state dict of tensors: non-tensor entries {listing(odd)}; re-save only the weights"
        )
    if next(iter(obj)).startswith("module."):  # saved from DataParallel / DDP
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    return obj


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """A checkpoint file's tensors, by content (safetensors or torch.save zip/legacy), refused in one line if bad."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    if p.suffix == ".safetensors" or is_safetensors(p):
        return load_safetensors(p)
    return as_state_dict(load_torch_file(p), p)


# -- transformers folders --------------------------------------------------------------------------------
def shard_index(index: Path) -> dict[str, Path]:
    """Tensor name -> shard path from a ``*.index.json``; every shard must exist inside the folder."""
    folder = index.parent
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except OSError as e:
        raise CheckpointError(f"cannot read the shard index {index}: {first_line(e)}") from e
    except ValueError as e:
        raise CheckpointError(f"the shard index {index} is not valid JSON ({first_line(e)}); {_REDOWNLOAD}") from e
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if weight_map is None:
        raise CheckpointError(f"the shard index {index} has no weight_map; {_REDOWNLOAD}")
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CheckpointError(
            f"the shard index {index} has a weight_map that is not a {{tensor name: shard file}} object; {_REDOWNLOAD}"
        )
    root = folder.resolve()
    files: dict[str, Path] = {}
    for name, shard in weight_map.items():
        f = (folder / shard).resolve()
        if root not in f.parents:  # a hostile index must not make us read files outside the folder
            raise CheckpointError(f"the shard index {index} points outside its folder: {shard!r}")
        files[name] = folder / shard
    absent = sorted({p.name for p in files.values() if not p.is_file()})
    if absent:
        raise CheckpointError(
            f"{index} names shard files that are missing: {', '.join(absent)}; the download is incomplete"
        )
    return files


def check_safetensors_shards(files: dict[str, Path], index: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Validate each shard's header and that every tensor the index names is in its shard; name -> (dtype, shape)."""
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    by_shard: dict[Path, list[str]] = {}
    for name, shard in files.items():
        by_shard.setdefault(shard, []).append(name)
    for shard, names in by_shard.items():
        header = safetensors_header(shard)
        absent = [n for n in names if n not in header]
        if absent:
            raise CheckpointError(
                f"{index} says {shard.name} holds tensors it does not: {listing(absent)}; {_REDOWNLOAD}"
            )
        out.update({n: header[n] for n in names})
    return out


def hf_weight_files(folder: Path, *, explicit: str | None = None) -> tuple[list[Path], bool]:
    """The weight files transformers would read from ``folder`` (same order of preference), each validated.

    Returns (files, is_safetensors). Safetensors files get their headers checked; pickle-based ``.bin`` files are
    read once with ``torch.load(weights_only=True)`` (memory-mapped), so nothing in them can run code later.
    ``explicit`` is a config's ``transformers_weights`` file name.
    """
    if explicit is not None:
        target = folder / explicit
        if not explicit.endswith((".safetensors", ".safetensors.index.json")) or folder.resolve() not in (
            target.resolve().parents
        ):
            raise CheckpointError(f"{folder}/config.json names an unusable transformers_weights file: {explicit!r}")
        if not target.is_file():
            raise CheckpointError(f"{target} (named by config.json transformers_weights) not found")
        candidates = [target]
    else:
        candidates = [folder / n for n in (HF_SAFE, HF_SAFE_INDEX, HF_BIN, HF_BIN_INDEX) if (folder / n).is_file()]
    if not candidates:
        raise CheckpointError(
            f"no weights in {folder}: expected {HF_SAFE}, {HF_SAFE_INDEX}, {HF_BIN} or {HF_BIN_INDEX}"
        )
    chosen = candidates[0]
    if chosen.name.endswith(".index.json"):
        shards = shard_index(chosen)
        files = sorted(set(shards.values()))
        if chosen.name.endswith(".safetensors.index.json"):
            check_safetensors_shards(shards, chosen)
            return files, True
        for f in files:
            as_state_dict(load_torch_file(f), f)
        return files, False
    if chosen.suffix == ".safetensors":
        safetensors_header(chosen)
        return [chosen], True
    as_state_dict(load_torch_file(chosen), chosen)
    return [chosen], False
