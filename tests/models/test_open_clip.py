"""The open_clip adapter: committed tiny weights, random architectures, precision, errors (all offline)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import zsbench  # noqa: E402
from zsbench.errors import CheckpointError, UnknownNameError, ZsbenchError  # noqa: E402
from zsbench.models import open_clip as open_clip_adapter  # noqa: E402
from zsbench.models import tiny  # noqa: E402
from zsbench.models.base import ModelIdentity  # noqa: E402

TEXTS = ["a circle.", "a small red triangle on the left", "there is a blue star at the top"]


@pytest.fixture(scope="module")
def tiny_model():
    assert tiny.tiny_weights_path().is_file(), "the committed tiny weights are missing"
    return zsbench.load_model("open_clip", tiny.TINY_MODEL_NAME, str(tiny.tiny_weights_path()), device="cpu")


@pytest.fixture(scope="module")
def images():
    from zsbench.datasets.loaders.shapes import render_sample

    return [render_sample(123, i).image for i in range(6)]


def test_tiny_weights_size_and_dtype():
    from safetensors import safe_open

    path = tiny.tiny_weights_path()
    assert path.stat().st_size <= 10 * 1024 * 1024
    with safe_open(str(path), framework="pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    assert "F16" in dtypes and "F32" not in dtypes


def test_tiny_matches_open_clip(tiny_model, images):
    import open_clip

    tiny.register_open_clip_configs()
    ref, _, pre = open_clip.create_model_and_transforms(tiny.TINY_MODEL_NAME, pretrained=str(tiny.tiny_weights_path()))
    ref.eval()
    tok = open_clip.get_tokenizer(tiny.TINY_MODEL_NAME)
    assert not tiny_model.module.training
    pix = torch.stack([tiny_model.transform(im) for im in images])
    assert torch.equal(pix, torch.stack([pre(im) for im in images]))
    with torch.no_grad():
        assert torch.equal(tiny_model.encode_image(pix), ref.encode_image(pix))
        ours, theirs = tiny_model.encode_text(tiny_model.tokenize(TEXTS)), ref.encode_text(tok(TEXTS))
    # zsbench runs the text tower only up to the longest prompt (causal mask: same math, other float rounding)
    assert tiny_model.identity["extra"]["text_context"] == "trimmed to the longest prompt"
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0)
    assert not torch.equal(ours, torch.zeros_like(ours))


def test_trimmed_text_tower_matches_full_context_on_vit_b_32():
    import open_clip

    m = open_clip_adapter.load("ViT-B-32", "", device="cpu", precision="fp32")
    texts = ["a photo of a cat.", "a blurry photo of a big red triangle on the left side of the image.", "x"]
    with torch.no_grad():
        ours, full = m.encode_text(m.tokenize(texts)), m.module.encode_text(open_clip.tokenize(texts))
    assert torch.allclose(ours, full, atol=1e-5, rtol=0)


def test_tiny_identity(tiny_model):
    assert isinstance(tiny_model.ident, ModelIdentity)
    ident = tiny_model.identity
    assert ident == tiny_model.ident.as_dict()
    assert (ident["model_type"], ident["architecture"]) == ("open_clip", tiny.TINY_MODEL_NAME)
    assert ident["library"]["open_clip"]
    assert ident["weights"]["source"] == "file"
    assert ident["weights"]["sha256"] == zsbench.models.base.fingerprint_path(tiny.tiny_weights_path())["sha256"]
    pp = ident["preprocess"]
    assert (pp["size"], pp["interpolation"], pp["resize_mode"]) == (64, "bicubic", "shortest")
    assert len(pp["mean"]) == len(pp["std"]) == 3
    assert ident["tokenizer"]["context_length"] == 32
    import json

    json.dumps(ident)  # part of cache keys: must be JSON-able


def test_tiny_local_dir_gives_same_embeddings(tiny_model, images):
    m = zsbench.load_model("open_clip", f"local-dir:{tiny.PRETRAINED_DIR}", "", device="cpu")
    pix = torch.stack([m.transform(im) for im in images])
    assert torch.equal(m.encode_image(pix), tiny_model.encode_image(pix))
    assert m.identity["weights"]["source"] == "local-dir"


def test_tiny_recognises_shapes(tiny_model, tmp_path):
    """The committed model is a real zero-shot classifier on the held-out shapes split (CLIP_benchmark protocol)."""
    from zsbench.tasks.classification import accuracy_topk, class_prompts, class_weights, classification_logits

    data = zsbench.load_dataset("shapes", tmp_path)
    keep = list(range(0, len(data.images), 5))  # 100 images, 10 per class: fast and still discriminating
    prompts, owner = class_prompts(data.classnames, data.templates)
    weights = class_weights(
        tiny_model.encode_text(tiny_model.tokenize(prompts)), torch.tensor(owner), len(data.classnames)
    )
    pix = torch.stack([tiny_model.transform(data.images.load_image(i)) for i in keep])
    logits = classification_logits(tiny_model.encode_image(pix), weights)
    acc = accuracy_topk(logits, torch.tensor([data.targets[i] for i in keep]), ks=(1,))[1]
    assert acc >= 0.75


@pytest.mark.parametrize("precision,dtype", [("fp16", torch.float16), ("bf16", torch.bfloat16)])
def test_precision_casts_weights(precision, dtype, images):
    m = zsbench.load_model(
        "open_clip", tiny.TINY_MODEL_NAME, str(tiny.tiny_weights_path()), device="cpu", precision=precision
    )
    assert {p.dtype for p in m.module.parameters()} == {dtype}
    assert m.precision.weights == precision
    emb = m.encode_text(m.tokenize(TEXTS))
    assert emb.dtype == torch.float32 and torch.isfinite(emb).all()
    if precision == "bf16":  # fp16 convolutions are not implemented on every CPU build
        out = m.encode_image(torch.stack([m.transform(im) for im in images]))
        assert out.dtype == torch.float32 and out.shape == (len(images), 64)


def test_auto_precision_is_fp32_on_cpu():
    m = zsbench.load_model("open_clip", tiny.TINY_MODEL_NAME, "", device="cpu")
    assert m.precision.name == "fp32" and {p.dtype for p in m.module.parameters()} == {torch.float32}
    assert m.identity["weights"] == {"source": "random", "seed": 0}


def test_random_vit_b_32_offline(images):
    m = zsbench.load_model("open_clip", "ViT-B-32", "", device="cpu")
    assert not m.module.training and m.identity["weights"] == {"source": "random", "seed": 0}
    pix = m.transform(images[0])[None]
    assert pix.shape == (1, 3, 224, 224)
    assert m.encode_image(pix).shape == (1, 512)
    assert m.encode_text(m.tokenize(TEXTS)).shape == (3, 512)
    assert m.identity["tokenizer"]["context_length"] == 77
    assert m.identity["preprocess"]["size"] in (224, [224, 224])


def test_random_weights_are_seeded():
    a = zsbench.load_model("open_clip", tiny.TINY_MODEL_NAME, "", device="cpu").module.state_dict()
    b = zsbench.load_model("open_clip", tiny.TINY_MODEL_NAME, "", device="cpu").module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg
    return msg


def test_bad_model_name_lists_choices():
    with pytest.raises(UnknownNameError) as e:
        zsbench.load_model("open_clip", "ViT-B-33", "", device="cpu")
    msg = _one_line(e.value)
    assert "valid choices" in msg and "ViT-B-32" in msg and tiny.TINY_MODEL_NAME in msg and "did you mean" in msg


def test_bad_tag_and_missing_file():
    with pytest.raises(UnknownNameError) as e:
        zsbench.load_model("open_clip", "ViT-B-32", "openai2", device="cpu")
    assert "openai" in _one_line(e.value) and "laion2b_s34b_b79k" in str(e.value)
    with pytest.raises(CheckpointError) as e:
        zsbench.load_model("open_clip", "ViT-B-32", "/nonexistent/weights.pt", device="cpu")
    _one_line(e.value)


def test_wrong_checkpoint_for_architecture_is_one_line():
    with pytest.raises(CheckpointError) as e:
        zsbench.load_model("open_clip", "RN50", str(tiny.tiny_weights_path()), device="cpu")
    _one_line(e.value)


def test_unknown_option():
    with pytest.raises(ZsbenchError, match="valid choices"):
        zsbench.load_model("open_clip", tiny.TINY_MODEL_NAME, "", device="cpu", not_an_option=1)
