"""open_clip pretrained tags in regression cases: passed to open_clip as tags, never joined to the weights folder.

Before: the plugin's weight resolution turned ``"pretrained": "openai"`` into ``pretrained/openai``, so every case on
an open_clip tag skipped as "missing weights pretrained/openai", even with the weights in the HF hub cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.snapshot_project import run_project, start_project
from zsbench.engine import open_clip_tag_weights, resolve_weights
from zsbench.errors import CheckpointError

pytest_plugins = ["pytester"]

HUB = "timm/vit_base_patch32_clip_224.openai"  # open_clip's hf_hub source of ViT-B-32 "openai"


def test_an_open_clip_tag_resolves_to_the_tag(tmp_path):
    assert resolve_weights("openai", tmp_path, model_type="open_clip", model="ViT-B-32") == "openai"
    assert resolve_weights("laion2b_s34b_b79k", tmp_path, model_type="open_clip", model="ViT-B/32") == (
        "laion2b_s34b_b79k"
    )
    # not a tag of that model, another model type, or no model given: a path under the weights folder, as before
    assert resolve_weights("openai", tmp_path, model_type="open_clip", model="zsbench-tiny-shapes") == (
        tmp_path / "openai"
    )
    assert resolve_weights("openai", tmp_path, model_type="hf", model="ViT-B-32") == tmp_path / "openai"
    assert resolve_weights("openai", tmp_path) == tmp_path / "openai"
    # a file or folder of that name under the weights folder is what the user put there: it wins over the tag
    (tmp_path / "openai").mkdir()
    assert resolve_weights("openai", tmp_path, model_type="open_clip", model="ViT-B-32") == tmp_path / "openai"


def _offline(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read when a download is tried
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))


def test_a_tag_not_in_the_cache_names_the_download_and_the_cache(tmp_path, monkeypatch):
    _offline(monkeypatch, tmp_path / "hub")
    with pytest.raises(CheckpointError) as err:
        open_clip_tag_weights("ViT-B-32", "openai")
    message = str(err.value)
    assert "\n" not in message and "'openai'" in message and f"hf-hub:{HUB}" in message
    assert str(tmp_path / "hub") in message and "HF_HUB_CACHE" in message and "missing weights" not in message


def test_a_cached_tag_is_found_without_network(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    repo = cache / f"models--{HUB.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"weights")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    _offline(monkeypatch, cache)
    assert Path(open_clip_tag_weights("ViT-B-32", "openai")) == snapshot / "open_clip_model.safetensors"


def test_plugin_passes_the_tag_and_skips_naming_the_download_not_a_file(pytester, monkeypatch):
    start_project(pytester)
    case = {"model_type": "open_clip", "model": "ViT-B-32", "pretrained": "openai", "dataset": "fake_cls",
            "dataset_root": "anywhere", "language": "en", "task": "zeroshot_classification", "markers": ["tiny"],
            "expected": {"acc1": 0.5}}  # fmt: skip
    path = pytester.path / "expected" / "vit" / "fake_cls__en.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(case))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the subprocess's huggingface_hub reads these at import
    monkeypatch.setenv("HF_HUB_CACHE", str(pytester.path / "hub"))
    result = run_project(pytester, "-rs", "--zs-pretrained-dir", str(pytester.path / "pretrained"))
    result.assert_outcomes(skipped=1)
    out = result.stdout.str()
    assert "missing weights" not in out and "pretrained/openai" not in out
    result.stdout.fnmatch_lines([f"*open_clip ViT-B-32 pretrained tag 'openai' needs open_clip's download of "
                                 f"hf-hub:{HUB} into the cache {pytester.path / 'hub'}*HF_HUB_CACHE*"])  # fmt: skip
