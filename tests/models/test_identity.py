"""One model-identity type for every adapter: same fields, a weights fingerprint, frozen, JSON-able.

The identity is part of every embedding-cache key and of each result's provenance, so every adapter must say the
same things in the same places: which family and architecture, which weights (fingerprinted), which preprocessing
and tokenizer, which options.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import dataclasses  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

import zsbench  # noqa: E402
from zsbench.models import MODEL_TYPES, tiny  # noqa: E402
from zsbench.models.base import ModelIdentity, ZeroShotModel, fingerprint_path, resolve_precision  # noqa: E402
from zsbench.testing.shared import require_shared  # noqa: E402

FIELDS = {
    "model_type",
    "architecture",
    "pretrained",
    "weights",
    "preprocess",
    "tokenizer",
    "options",
    "library",
    "extra",
}
INTERNVL_TOKENIZER = "seed_data/internvl_tokenizer/tokenizer.model"


@pytest.fixture(scope="module")
def internvl_tiny(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tokenizer = require_shared(INTERNVL_TOKENIZER)
    import torch

    from zsbench.testing.internvl_tiny import write_tiny_checkpoints

    return write_tiny_checkpoints(tmp_path_factory.mktemp("internvl_ident"), tokenizer, dtype=torch.float32)


def _load(kind: str, request: pytest.FixtureRequest) -> tuple[ZeroShotModel, Path]:
    """(model, the weights file or folder it was loaded from) for one adapter on tiny offline weights."""
    if kind == "open_clip":
        path = tiny.tiny_weights_path()
        return zsbench.load_model("open_clip", tiny.TINY_MODEL_NAME, str(path), device="cpu"), path
    if kind in ("hf_clip", "hf_siglip"):
        path = request.getfixturevalue(f"{kind}_dir")
        return zsbench.load_model("hf", "x", str(path), device="cpu"), path
    ck = request.getfixturevalue("internvl_tiny")
    if kind == "internvl_pth":
        m = zsbench.load_model(
            "internvl", "internvl_c_classification", str(ck.pth), device="cpu", precision="fp32", config=ck.config
        )
        return m, ck.pth
    return zsbench.load_model("internvl", "internvl_g_retrieval_hf", str(ck.hf_folder), device="cpu"), ck.hf_folder


@pytest.mark.parametrize("kind", ["open_clip", "hf_clip", "hf_siglip", "internvl_pth", "internvl_hf"])
def test_every_adapter_gives_the_same_identity_fields_and_a_weights_fingerprint(
    kind: str, request: pytest.FixtureRequest
) -> None:
    m, path = _load(kind, request)
    assert isinstance(m.ident, ModelIdentity)
    ident = m.identity  # the engine's view: a plain dict
    assert set(ident) == FIELDS, f"{kind}: {sorted(set(ident) ^ FIELDS)}"
    assert ident == m.ident.as_dict() and type(ident) is dict
    assert ident["model_type"] == m.model_type == MODEL_TYPES.canonical(m.model_type)
    assert ident["architecture"] and isinstance(ident["architecture"], str)
    # the weights fingerprint: where the weights came from and their content hash
    weights = ident["weights"]
    assert weights["source"] in ("file", "folder")
    assert weights["sha256"] == fingerprint_path(path)["sha256"] and len(weights["sha256"]) == 64
    assert weights["path"] == str(path)
    assert ident["preprocess"] and ident["tokenizer"]
    assert json.loads(json.dumps(ident, sort_keys=True)) == ident  # JSON-able as it is: no default=str needed


def test_identity_is_frozen_and_the_dict_is_a_copy() -> None:
    ident = ModelIdentity("open_clip", "RN50", "", {"source": "random", "seed": 0}, {"size": (224, 224)}, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        ident.architecture = "ViT-B-32"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ident.weights["seed"] = 1  # type: ignore[index]
    assert ident.preprocess["size"] == (224, 224)  # tuples stay tuples inside, lists in as_dict (JSON)
    d = ident.as_dict()
    assert d["preprocess"]["size"] == [224, 224]
    d["weights"]["seed"] = 1
    assert ident.weights["seed"] == 0
    assert ModelIdentity.from_dict(ident.as_dict()) == ident
    assert hash(ModelIdentity.from_dict(ident.as_dict())) == hash(ident)
    assert pickle.loads(pickle.dumps(ident)) == ident


def test_identity_values_are_what_json_writes() -> None:
    """Enums, paths and other objects become what json.dumps(default=str) writes: memory and cache key agree."""
    import enum

    class Resample(enum.IntEnum):
        BICUBIC = 3

    ident = ModelIdentity(
        "hf", "CLIPModel", "/w", {"source": "folder", "path": Path("/w")}, {"resample": Resample.BICUBIC, 1: "x"}, {}
    )
    assert ident.as_dict()["preprocess"] == {"resample": 3, "1": "x"}
    assert type(ident.as_dict()["preprocess"]["resample"]) is int
    assert ident.as_dict()["weights"]["path"] == "/w"
    with pytest.raises(TypeError, match="architecture must be a str"):
        ModelIdentity("hf", None, "", {}, {}, {})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="weights must be a mapping"):
        ModelIdentity("hf", "x", "", "abc", {}, {})  # type: ignore[arg-type]


def _bare_model(identity: Any = None) -> ZeroShotModel:
    return ZeroShotModel(
        name="m", model_type="fake", pretrained="p.bin", transform=str, tokenize_fn=list, image_fn=str, text_fn=str,
        device="cpu", precision=resolve_precision("fp32", "cpu"), identity=identity,
    )  # fmt: skip


def test_assigning_a_dict_keeps_every_key() -> None:
    """``Evaluator.load`` marks --compile by assigning a dict with an extra key: it must reach the cache key."""
    m = zsbench.load_model("open_clip", tiny.TINY_MODEL_NAME, str(tiny.tiny_weights_path()), device="cpu")
    before = m.identity
    m.identity = {**m.identity, "compiled": True}
    assert m.ident.extra["compiled"] is True and m.identity["extra"]["compiled"] is True
    assert set(m.identity) == FIELDS and m.identity != before
    assert {k: v for k, v in m.identity.items() if k != "extra"} == {k: v for k, v in before.items() if k != "extra"}


def test_a_model_built_from_a_bare_mapping_still_names_itself() -> None:
    """Test doubles and benchmarks that pass a partial dict (or none) never share an empty identity."""
    m = _bare_model({"fake": "m", "pretrained": "weights.bin"})
    assert m.identity["pretrained"] == "weights.bin" and m.identity["extra"] == {"fake": "m"}
    assert (m.identity["model_type"], m.identity["architecture"]) == ("fake", "m")
    bare = _bare_model()
    assert set(bare.identity) == FIELDS
    assert (bare.identity["model_type"], bare.identity["architecture"], bare.identity["pretrained"]) == (
        "fake",
        "m",
        "p.bin",
    )


def test_adapters_are_named_for_their_family_and_open_clip_is_the_real_package() -> None:
    import open_clip

    import zsbench.models.hf as hf_adapter
    import zsbench.models.open_clip as open_clip_adapter

    assert MODEL_TYPES.get("open_clip") is open_clip_adapter.load
    assert MODEL_TYPES.get("hf") is hf_adapter.load
    assert MODEL_TYPES.get("internvl").__module__ == "zsbench.models.internvl"
    # zsbench.models.open_clip's own `import open_clip` is absolute: the library, not the adapter itself
    assert open_clip is not open_clip_adapter and hasattr(open_clip, "create_model_and_transforms")
    assert Path(open_clip.__file__).resolve().parent != Path(open_clip_adapter.__file__).resolve().parent
