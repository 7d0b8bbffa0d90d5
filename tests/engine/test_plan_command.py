"""``zsbench plan`` and ``zsbench eval --dry_run``: what a run would load, encode and reuse, without doing it.

The fake model counts every image and text it encodes (``zsbench.testing.fake.CALLS``): a plan must leave those
counters at zero, write no result and no cache entry, and still count what the run would do.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zsbench.cli import main
from zsbench.engine import ModelRef
from zsbench.engine.estimate import OPEN_CLIP_GFLOPS, image_flops, internvl_gflops
from zsbench.testing import fake

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fake():
    fake.register()
    for key in fake.CALLS:
        fake.CALLS[key] = 0


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return ["--model_type", "fake", "--model", "m", "--pretrained", "p", "--num_workers", "0",
            "--dataset_root", str(tmp_path / "{dataset}"), "--cache_dir", str(tmp_path / "cache"),
            "--output", str(tmp_path / "out" / "{dataset}_{language}_{task}.json"), *extra]  # fmt: skip


def _plan_json(capsys, tmp_path: Path, *extra: str) -> dict:
    assert main(["plan", *_args(tmp_path, *extra), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _encoded() -> int:
    return sum(fake.CALLS.values())


def test_plan_counts_loads_image_sets_and_prompts_and_encodes_nothing(tmp_path, capsys):
    report = _plan_json(capsys, tmp_path, "--dataset", "fake_cls", "fake_ret", "--language", "en", "cn")
    assert _encoded() == 0
    [model] = report["models"]
    assert (model["model"], model["load"]) == ("m", "load")
    t = report["totals"]
    # 4 jobs, one model load; the two languages share each image set: 30 + 12 images, once.
    assert (t["jobs"], t["model_loads"], t["image_sets"], t["images_to_encode"]) == (4, 1, 2, 42)
    # CLIP_benchmark reloads the model and re-encodes the images for every (model, dataset, language).
    assert t["clip_benchmark"] == {**t["clip_benchmark"], "model_loads": 4, "image_encodes": 84}
    jobs = {(j["dataset"], j["language"]): j for j in model["jobs"]}
    assert [s["action"] for s in jobs["fake_cls", "en"]["image_sets"]] == ["encode"]
    assert [s["action"] for s in jobs["fake_cls", "cn"]["image_sets"]] == ["reuse"]
    assert jobs["fake_cls", "cn"]["image_sets"][0]["index"] == jobs["fake_cls", "en"]["image_sets"][0]["index"]
    assert (jobs["fake_cls", "en"]["texts"], jobs["fake_cls", "en"]["texts_desc"]) == (6, "3 classes x 2 templates")
    assert jobs["fake_ret", "en"]["texts"] == 24  # 12 images x 2 captions
    sets = {s["dataset"]: s for s in model["image_sets"]}
    assert sets["fake_cls"]["n"] == 30 and sets["fake_cls"]["languages"] == ["en", "cn"]
    assert sets["fake_cls"]["cache"]["status"] == "no entry"
    # The fake architecture has no FLOPs entry: cost and time are "unknown", never a made-up number.
    assert model["gflops_per_image"] is None and t["seconds"] is None and t["tflops"] is None
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_eval_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    argv = ["eval", *_args(tmp_path, "--dataset", "fake_cls", "fake_ret", "--throughput", "10", "--dry_run")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert _encoded() == 0
    assert "2 model load" not in out and "1 model load(s)" in out
    assert "images encoded" in out and "42" in out
    assert "4.2 s" in out  # 42 images at --throughput 10
    assert not (tmp_path / "out").exists(), "a dry run wrote a result"
    assert not (tmp_path / "cache").exists(), "a dry run wrote to the cache"
    # The same flags without --dry_run do run (and encode).
    assert main(["eval", *_args(tmp_path, "--dataset", "fake_cls", "--quiet")]) == 0
    assert fake.CALLS["images"] == 30
    assert len(list((tmp_path / "out").glob("*.json"))) == 1


def test_dry_run_refuses_what_eval_refuses(tmp_path, capsys):
    assert main(["eval", *_args(tmp_path, "--dataset", "fake_cls", "--batch_size", "0", "--dry_run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("zsbench: error:") and "--batch_size" in err


def test_cache_entries_on_disk_are_reported_as_possible_hits(tmp_path, capsys):
    assert main(["eval", *_args(tmp_path, "--dataset", "fake_cls", "fake_ret", "--quiet")]) == 0
    capsys.readouterr()
    for key in fake.CALLS:
        fake.CALLS[key] = 0
    report = _plan_json(capsys, tmp_path, "--dataset", "fake_cls", "fake_ret")
    assert _encoded() == 0
    sets = report["models"][0]["image_sets"]
    assert [s["cache"]["status"] for s in sets] == ["possible hit", "possible hit"]
    assert all(len(s["cache"]["entries"]) == 1 for s in sets)
    assert report["totals"]["possible_cache_hit_images"] == 42
    # Other weights, or another root, are not hits.
    other = _plan_json(capsys, tmp_path, "--dataset", "fake_cls", "--pretrained", "q")
    assert other["models"][0]["image_sets"][0]["cache"]["status"] == "no entry"
    # --skip_existing: every result exists, so the model would not load at all.
    skipped = _plan_json(capsys, tmp_path, "--dataset", "fake_cls", "fake_ret", "--skip_existing")
    assert skipped["totals"]["model_loads"] == 0 and skipped["totals"]["jobs_skipped_existing"] == 2


def test_missing_dataset_is_shown_as_missing_not_an_error(tmp_path, capsys):
    # cifar10 is a real catalog dataset; nothing is under tmp_path/cifar10. A plan never downloads it.
    assert main(["plan", *_args(tmp_path, "--dataset", "fake_cls", "cifar10", "--download")]) == 0
    out = capsys.readouterr().out
    assert f"missing: {tmp_path / 'cifar10'}" in out
    assert "10,000 (catalog) images" in out
    assert not (tmp_path / "cifar10").exists(), "the plan downloaded the dataset"
    report = _plan_json(capsys, tmp_path, "--dataset", "cifar10")
    [image_set] = report["models"][0]["image_sets"]
    assert (image_set["status"], image_set["n"], image_set["count"]) == ("missing", 10000, "catalog")
    assert "cifar10" in image_set["reason"]
    assert report["totals"]["images_to_encode"] == 10000
    assert _encoded() == 0


def test_readme_plan_lists_the_54_cases_and_encodes_fewer_images_than_clip_benchmark(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # --readme reads ./expected, as `pytest benchmarks/` does
    argv = ["plan", "--readme", "--data_root", str(tmp_path), "--pretrained_dir", str(tmp_path), "--format", "json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source"]["cases"] == 54
    jobs = [j for m in report["models"] for j in m["jobs"]]
    assert len(jobs) == 54 and len({j["case"] for j in jobs}) == 54
    t = report["totals"]
    assert t["images_to_encode"] < t["clip_benchmark"]["image_encodes"]
    # ImageNet-1k in five languages: one image set, 50,000 images encoded once (CLIP_benchmark: five times).
    [c_cls, c_ret, g_ret] = report["models"]
    [imagenet] = [s for s in c_cls["image_sets"] if s["dataset"] == "imagenet1k"]
    assert sorted(imagenet["languages"]) == ["ar", "cn", "en", "it", "jp"] and imagenet["n"] == 50000
    assert t["clip_benchmark"]["image_encodes"] - t["images_to_encode"] == 4 * 50000 + 2 * 7 * 1000  # + XTD x 2
    # The C adapters share one .pth read, not their image embeddings; G is another checkpoint.
    assert (t["model_loads"], t["checkpoint_reads"], t["clip_benchmark"]["model_loads"]) == (3, 2, 54)
    assert "shares the network" in c_ret["load"] and g_ret["load"] == "load"
    assert c_cls["gflops_per_image"] == pytest.approx(3083.8, abs=0.1)
    assert g_ret["gflops_per_image"] == pytest.approx(4663.6, abs=0.1)
    assert t["seconds"] is not None and t["seconds"] < t["clip_benchmark"]["seconds"]


def test_readme_plan_refuses_model_and_dataset_flags(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["plan", "--readme", "--dataset", "cifar10"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--dataset" in err and "--readme" in err


@pytest.mark.parametrize("value", ["0", "-5", "nan"])
def test_throughput_must_be_positive(tmp_path, capsys, value):
    assert main(["plan", *_args(tmp_path, "--dataset", "fake_cls", "--throughput", value)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--throughput" in err


@pytest.mark.parametrize(
    ("model_type", "model", "architecture"),
    [
        ("open_clip", "ViT-B-32-quickgelu", "ViT-B-32"),
        ("open_clip", "ViT-L-14-336", "ViT-L-14-336"),
        ("open_clip", "xlm-roberta-large-ViT-H-14", "ViT-H-14"),
        ("hf", "openai/clip-vit-large-patch14-336", "ViT-L-14-336"),
        ("open_clip", "zsbench-tiny-shapes", "zsbench-tiny-shapes"),
    ],
)
def test_flops_table_finds_known_image_towers(model_type, model, architecture):
    arch, gflops, _ = image_flops(ModelRef(model_type, model, "x"))
    assert (arch, gflops) == (architecture, OPEN_CLIP_GFLOPS[architecture])


def test_unknown_architecture_has_unknown_flops():
    assert image_flops(ModelRef("open_clip", "RN50", "openai"))[1] is None


def test_internvl_flops_formula_matches_the_flop_counter():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from zsbench.models.internvl.config import InternVLConfig, TextConfig, VisionConfig
    from zsbench.models.internvl.model import BuildOptions, build_model

    # A small InternVL on the meta device (no memory, no weights): every matmul of the image path is counted.
    vision = VisionConfig(image_size=56, patch_size=14, hidden_size=64, num_heads=4, intermediate_size=128, depth=2)
    text = TextConfig(vocab_size=100, hidden_size=96, num_layers=4, num_heads=4, intermediate_size=160)
    config = InternVLConfig(vision=vision, text=text, clip_embed_dim=32, attn_pool_num_heads=4, num_query_token=8)
    model = build_model(config, BuildOptions(query_branch=True), device="meta")
    pixels = torch.zeros(1, 3, 56, 56, device="meta")
    for mode in ("InternVL-C", "InternVL-G"):
        with FlopCounterMode(display=False) as counter:
            model.encode_image(pixels, mode)
        assert internvl_gflops(config, mode) == pytest.approx(counter.get_total_flops() / 1e9, rel=1e-9)
