"""The CPU cold-start levers that are zsbench defaults change no number (benchmarks/perf/levers.py measures them).

* light imports (``zsbench/models/open_clip_import.py``): a plain CLIP loads with transformers, timm and
  ``torch._dynamo`` left unimported, and its embeddings are bit-identical to those of an ordinary import; a later
  model or caller that needs the libraries gets them;
* no random initialisation of ``nn.MultiheadAttention`` before a checkpoint replaces it (``_no_init``);
* freed tensor memory kept for reuse on the CPU (``zsbench.engine.encode.keep_freed_memory``): far fewer page
  faults, the same embeddings.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import zsbench
from zsbench.models.tiny import TINY_MODEL_NAME, tiny_weights_path

HEAVY = ("transformers", "timm", "torch._dynamo")

# Runs in a fresh interpreter: the first open_clip import of the process is zsbench's.
LIGHT_RUN = textwrap.dedent(
    """
    import json, sys
    import torch
    from zsbench.models import load_model
    from zsbench.models import open_clip as zoc
    from zsbench.models.open_clip_import import enable_light_imports, is_light
    from zsbench.models.tiny import TINY_MODEL_NAME, tiny_weights_path

    enable_light_imports()  # as the CLI does
    HEAVY = ("transformers", "timm", "torch._dynamo")

    def embed():
        m = load_model("open_clip", TINY_MODEL_NAME, str(tiny_weights_path()), device="cpu", precision="fp32")
        pixels = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        return m.encode_image(pixels), m.encode_text(m.tokenize(["a photo of a red circle", "a blue square"]))

    light_img, light_txt = embed()
    report = {"light": is_light(), "loaded": [n for n in HEAVY if n in sys.modules]}
    report["generation"] = zoc.generation_unavailable()  # needs transformers: open_clip gets it now
    report["light_after"] = is_light()
    full_img, full_txt = embed()
    torch.save({"img": light_img, "txt": light_txt, "img2": full_img, "txt2": full_txt}, sys.argv[1])
    print(json.dumps(report))
    """
)


def _reference_embeddings() -> tuple[torch.Tensor, torch.Tensor]:
    import open_clip  # noqa: F401  (this process: an ordinary import, or made complete)

    from zsbench.models.open_clip_import import ensure_full

    ensure_full()
    m = zsbench.load_model("open_clip", TINY_MODEL_NAME, str(tiny_weights_path()), device="cpu", precision="fp32")
    pixels = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    return m.encode_image(pixels), m.encode_text(m.tokenize(["a photo of a red circle", "a blue square"]))


@pytest.mark.slow
def test_light_import_skips_heavy_libraries_and_changes_no_embedding(tmp_path: Path) -> None:
    out = tmp_path / "emb.pt"
    proc = subprocess.run(
        [sys.executable, "-c", LIGHT_RUN, str(out)], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["light"] is True and report["loaded"] == []
    saved = torch.load(out, weights_only=True)
    ref_img, ref_txt = _reference_embeddings()
    # bit-identical to an ordinary import, before and after open_clip got its optional libraries
    for img, txt in ((saved["img"], saved["txt"]), (saved["img2"], saved["txt2"])):
        assert torch.equal(img, ref_img) and torch.equal(txt, ref_txt)
    from zsbench.models.open_clip import generation_unavailable

    assert report["light_after"] is False
    assert report["generation"] == generation_unavailable()  # the same answer as with an ordinary import


# Stand-ins and hidden libraries, on small made-up packages instead of open_clip (fresh interpreter).
FALLBACK_RUN = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from zsbench.models.open_clip_import import _light_import
    report = {}
    m = _light_import("zs_pkg_ok")  # binds is_compile_supported, tries transformers
    report["ok"] = [m.has_transformers, "torch._dynamo" in sys.modules, "transformers" in sys.modules]
    m = _light_import("zs_pkg_submodule")  # imports a torch._dynamo submodule: the stand-in cannot: fallback
    report["submodule"] = [m.value, type(sys.modules["torch._dynamo"]).__name__]
    report["real_fn"] = m.fn("cpu")
    print(json.dumps(report))
    """
)


@pytest.mark.slow
def test_light_import_falls_back_to_an_ordinary_import(tmp_path: Path) -> None:
    (tmp_path / "zs_pkg_ok").mkdir()
    (tmp_path / "zs_pkg_ok" / "__init__.py").write_text(
        "from torch._dynamo.utils import is_compile_supported\n"
        "try:\n    import transformers\n    has_transformers = True\n"
        "except ImportError:\n    has_transformers = False\n"
    )
    (tmp_path / "zs_pkg_submodule").mkdir()
    (tmp_path / "zs_pkg_submodule" / "__init__.py").write_text(
        "import torch._dynamo.config\nfrom torch._dynamo.utils import is_compile_supported as fn\nvalue = 42\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", FALLBACK_RUN, str(tmp_path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["ok"] == [False, False, False]  # hidden while importing, nothing heavy left behind
    assert report["submodule"] == [42, "module"]  # imported the ordinary way, with the real torch._dynamo
    assert report["real_fn"] is True


def test_light_imports_only_where_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    import zsbench.models.open_clip_import as oci

    monkeypatch.setattr(oci, "_light_import", lambda: "light")
    monkeypatch.setattr(oci, "_ordinary_import", lambda: "ordinary")
    monkeypatch.delitem(sys.modules, "open_clip", raising=False)  # as if nothing had imported it yet
    monkeypatch.setattr(oci, "_enabled", False)
    assert oci.import_for(TINY_MODEL_NAME) == "ordinary"  # the library default
    monkeypatch.setattr(oci, "_enabled", True)
    assert oci.import_for(TINY_MODEL_NAME) == "light"
    assert oci.import_for("coca_ViT-B-32") == "ordinary"  # needs transformers


def test_cli_enables_light_imports_only_as_a_program(monkeypatch: pytest.MonkeyPatch) -> None:
    import zsbench.models.open_clip_import as oci
    from zsbench.cli import main

    monkeypatch.setattr(oci, "_enabled", False)
    assert main([]) == 0  # called with arguments (tests, other programs): the caller's process, left alone
    assert oci._enabled is False
    monkeypatch.setattr(sys, "argv", ["zsbench"])
    assert main() == 0  # no command: help, exit 0
    assert oci._enabled is True


def test_no_init_draws_no_random_numbers_for_attention_layers() -> None:
    from zsbench.models.open_clip import _no_init

    state = torch.random.get_rng_state()
    with _no_init(True):
        torch.nn.MultiheadAttention(32, 4)
        torch.nn.Linear(8, 8)
    assert torch.equal(torch.random.get_rng_state(), state)
    # and the real initialisers are back afterwards
    torch.nn.MultiheadAttention(32, 4)
    assert not torch.equal(torch.random.get_rng_state(), state)


def test_no_init_changes_no_loaded_weight(monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    import zsbench.models.open_clip as zoc

    def load() -> dict[str, torch.Tensor]:
        m = zsbench.load_model("open_clip", TINY_MODEL_NAME, str(tiny_weights_path()), device="cpu")
        return {k: v.clone() for k, v in m.module.state_dict().items()}

    fast = load()
    monkeypatch.setattr(zoc, "_no_init", lambda enabled: contextlib.nullcontext())
    slow = load()
    assert fast.keys() == slow.keys()
    assert all(torch.equal(fast[k], slow[k]) for k in fast)


@pytest.mark.parametrize(
    ("config", "plain"),
    [
        ({"embed_dim": 8, "vision_cfg": {"width": 8}, "text_cfg": {"width": 8}}, True),
        ({"embed_dim": 8, "vision_cfg": {"timm_model_name": "vit"}, "text_cfg": {}}, False),
        ({"embed_dim": 8, "vision_cfg": {}, "text_cfg": {"hf_model_name": "roberta-base"}}, False),
        ({"embed_dim": 8, "vision_cfg": {}, "text_cfg": {}, "multimodal_cfg": {}}, False),
        (None, False),
    ],
)
def test_plain_configs(config: dict | None, plain: bool) -> None:
    from zsbench.models.open_clip_import import is_plain

    assert is_plain(config) is plain


def test_model_config_is_read_without_importing_open_clip(tmp_path: Path) -> None:
    from zsbench.models.open_clip_import import is_plain, model_config

    assert is_plain(model_config("ViT-B/32")) and is_plain(model_config(TINY_MODEL_NAME))
    assert not is_plain(model_config("coca_ViT-B-32")) and not is_plain(model_config("xlm-roberta-base-ViT-B-32"))
    assert model_config("hf-hub:org/repo") is None and model_config("no-such-model") is None
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": {"embed_dim": 4, "vision_cfg": {}}}))
    assert model_config("local-dir:" + str(tmp_path)) == {"embed_dim": 4, "vision_cfg": {}}
    assert model_config("ViT-B-32", str(tmp_path)) == {"embed_dim": 4, "vision_cfg": {}}


# A random ViT-B-32 in a fresh interpreter: page faults and outputs of the same batch before and after
# keep_freed_memory (glibc's settings are per process and cannot be taken back).
MALLOC_RUN = textwrap.dedent(
    """
    import json, resource, torch
    import zsbench
    from zsbench.engine.encode import keep_freed_memory

    torch.manual_seed(0)
    m = zsbench.load_model("open_clip", "ViT-B-32", "", device="cpu", precision="fp32")
    x = torch.rand(16, 3, 224, 224, generator=torch.Generator().manual_seed(0))

    def faults_and_output():
        m.encode_image(x)  # warm-up: the allocator's state after one batch, as from the second batch of a run
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        out = m.encode_image(x)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, out

    default_faults, default_out = faults_and_output()
    tuned = keep_freed_memory()
    tuned_faults, tuned_out = faults_and_output()
    print(json.dumps({"tuned": tuned, "default": default_faults, "kept": tuned_faults,
                      "equal": bool(torch.equal(default_out, tuned_out))}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_keep_freed_memory_cuts_page_faults_and_changes_no_embedding() -> None:
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    proc = subprocess.run([sys.executable, "-c", MALLOC_RUN], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["tuned"] is True and r["equal"] is True
    assert r["kept"] * 3 < r["default"], r  # measured: 22k -> 2.4k faults per batch of 16
