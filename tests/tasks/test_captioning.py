"""``--task captioning``: zsbench's scorer gives pycocoevalcap's own numbers, open_clip's CoCa generation is called and
decoded as CLIP_benchmark 1.6.2 does, and a CLI run on a tiny COCO replica writes every CLIP_benchmark key.

The CoCa is tiny with random weights (``zsbench.testing.tiny_coca``): the captions are nonsense, the plumbing is
what is checked. The PTB tokenizer and METEOR are Java programs; tests that need Java skip without it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pycocoevalcap")

from zsbench.tasks import captioning as cap  # noqa: E402
from zsbench.testing import replicas as R  # noqa: E402
from zsbench.testing.tiny_coca import greedy_generate, write_tiny_coca  # noqa: E402

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="no 'java' on PATH (pycocoevalcap's tokenizer)")

REFERENCES = [
    ["A dog runs on the grass.", "a brown dog running", "The dog (brown) is running!"],
    ["Two cats sleep on a sofa.", "cats sleeping", 'two "sleepy" cats on a couch'],
    ["a red car parked by the road", "A red car."],
    ["A man riding a bike down a street.", "a cyclist on a city street"],
]
HYPOTHESES = ["a dog running on grass", "two cats sleeping on a couch", "", "a man riding a bicycle"]


def _pycocoevalcap_direct(references, hypotheses, meteor: bool = False) -> dict[str, float]:
    """CLIP_benchmark's COCOEvalCap steps, called on pycocoevalcap directly."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    gts = {i: [{"caption": t} for t in refs] for i, refs in enumerate(references)}
    res = {i: [{"caption": h}] for i, h in enumerate(hypotheses)}
    with contextlib.redirect_stdout(io.StringIO()):
        gts, res = PTBTokenizer().tokenize(gts), PTBTokenizer().tokenize(res)
        out = dict(zip(["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"], Bleu(4).compute_score(gts, res)[0]))
        out["ROUGE_L"] = Rouge().compute_score(gts, res)[0]
        out["CIDEr"] = Cider().compute_score(gts, res)[0]
        if meteor:
            from pycocoevalcap.meteor.meteor import Meteor

            out["METEOR"] = Meteor().compute_score(gts, res)[0]
    return {k: float(v) for k, v in out.items()}


@needs_java
def test_ptb_tokenize_matches_pycocoevalcap():
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    captions = {
        0: ['He said "hi" (twice) -- and left...', "", "Mr. Smith's 3.5 cats; café naïve 图"],
        1: ["line one\nline two", "A  B\tC"],
        2: [""],
    }
    ours = cap.ptb_tokenize(captions)
    with contextlib.redirect_stdout(io.StringIO()):
        theirs = PTBTokenizer().tokenize({k: [{"caption": c} for c in v] for k, v in captions.items()})
    assert ours == theirs
    assert ours[0][1] == "" and ours[2] == [""]


@needs_java
def test_ptb_tokenize_keeps_captions_on_their_image_where_pycocoevalcap_shifts_them():
    # Java ends a line at \r too: pycocoevalcap would move every later caption onto the previous image.
    ours = cap.ptb_tokenize({0: ["a dog\rruns"], 1: ["two cats"]})
    assert ours == {0: ["a dog runs"], 1: ["two cats"]}


@needs_java
def test_scores_equal_pycocoevalcap_on_known_captions():
    metrics, unavailable = cap.score_captions(REFERENCES, HYPOTHESES, meteor=False)
    expected = _pycocoevalcap_direct(REFERENCES, HYPOTHESES)
    assert list(metrics) == list(cap.CAPTIONING_METRICS)
    for key, value in expected.items():
        assert metrics[key] == value, key
    assert metrics["Bleu_1"] > 0.3 and metrics["CIDEr"] > 0.5  # the pairs overlap: not a vacuous comparison
    assert metrics["SPICE"] is None and "Stanford CoreNLP" in unavailable["SPICE"]
    assert metrics["METEOR"] is None and "METEOR" in unavailable


@needs_java
def test_references_shifted_by_one_image_change_every_score():
    right, _ = cap.score_captions(REFERENCES, HYPOTHESES, meteor=False)
    shifted, _ = cap.score_captions(REFERENCES[1:] + REFERENCES[:1], HYPOTHESES, meteor=False)
    assert shifted == _pycocoevalcap_direct(REFERENCES[1:] + REFERENCES[:1], HYPOTHESES) | {
        "METEOR": None,
        "SPICE": None,
    }
    for key in ("Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr"):
        assert shifted[key] < right[key], key


@pytest.mark.slow
@needs_java
def test_meteor_equals_pycocoevalcap():
    metrics, unavailable = cap.score_captions(REFERENCES, HYPOTHESES)
    assert "METEOR" not in unavailable
    assert metrics["METEOR"] == _pycocoevalcap_direct(REFERENCES, HYPOTHESES, meteor=True)["METEOR"]


def test_failed_meteor_is_null_with_its_reason(monkeypatch):
    def broken(references, hypotheses):
        raise BrokenPipeError("java exited")

    monkeypatch.setattr(cap, "_meteor", broken)
    refs = {0: ["a dog runs"], 1: ["two cats"]}
    metrics, unavailable = cap.score_tokenized(refs, {0: ["a dog"], 1: ["cats"]})
    assert metrics["METEOR"] is None and "java exited" in unavailable["METEOR"]
    assert metrics["SPICE"] is None and set(unavailable) == {"METEOR", "SPICE"}
    assert metrics["Bleu_1"] is not None and metrics["CIDEr"] is not None


def test_score_captions_refuses_misaligned_inputs():
    with pytest.raises(ValueError, match="3 generated captions for 2 images"):
        cap.score_captions([["a"], ["b"]], ["a", "b", "c"])
    with pytest.raises(ValueError, match="without reference captions"):
        cap.score_captions([["a"], []], ["a", "b"])


def test_auto_keeps_retrieval_for_caption_datasets_and_captioning_is_registered():
    from zsbench.engine.plan import resolve_task
    from zsbench.tasks import TASKS

    assert resolve_task("mscoco_captions", "auto") == "zeroshot_retrieval"  # as upstream
    assert resolve_task("mscoco_captions", "captioning") == "captioning"
    assert "captioning" in TASKS.names() and "captioning" not in TASKS.unsupported()


# -- the tiny CoCa ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_coca(tmp_path_factory) -> Path:
    return write_tiny_coca(tmp_path_factory.mktemp("tiny_coca"))


@pytest.fixture
def generation(monkeypatch):
    """open_clip's CoCa generate where the installed transformers runs it; else a greedy stand-in (plumbing only)."""
    import open_clip
    from open_clip import coca_model

    from zsbench.models.open_clip import generation_unavailable

    if generation_unavailable() is None:
        return "open_clip"
    original = open_clip.CoCa.generate

    @functools.wraps(original)  # keeps generate's signature: its defaults are the recorded settings
    def stand_in(self, image, **kwargs):
        return greedy_generate(self, image)

    monkeypatch.setattr(coca_model, "_has_transformers", True)
    monkeypatch.setattr(open_clip.CoCa, "generate", stand_in)
    return "stand-in"


def test_generation_settings_and_refusals_from_the_config(tiny_coca):
    from zsbench.models import caption_refusal
    from zsbench.models.open_clip import generation_unavailable

    assert caption_refusal("open_clip", f"local-dir:{tiny_coca}") == generation_unavailable()
    assert caption_refusal("open_clip", "coca_ViT-B-32") == generation_unavailable()
    assert "no text decoder" in caption_refusal("open_clip", "ViT-B-32")
    assert "no text decoder" in caption_refusal("open_clip", "zsbench-tiny-shapes")
    assert "SimpleTokenizer" in caption_refusal("open_clip", "coca_roberta-ViT-B-32")
    assert "contrastive" in caption_refusal("hf", "whatever")


def test_tiny_coca_generates_and_decodes_as_clip_benchmark(tiny_coca, generation):
    import torch
    from open_clip.tokenizer import _tokenizer

    import zsbench

    model = zsbench.load_model("open_clip", f"local-dir:{tiny_coca}", "", device="cpu")
    assert model.can_generate
    settings = model.generation_settings
    assert settings["generate_defaults"]["generation_type"] == "beam_search"
    assert settings["generate_defaults"]["num_beams"] == 6 and settings["generate_defaults"]["seq_len"] == 30
    pixels = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    tokens = model.generate_captions(pixels)
    assert tokens.dtype == torch.int64 and tokens.shape == (3, settings["generate_defaults"]["max_seq_len"])
    # CLIP_benchmark: model.generate(img), then the global SimpleTokenizer's decode, cut at <end_of_text>
    with torch.no_grad():
        upstream = model.module.generate(pixels)
    expected = [
        _tokenizer.decode(i).split("<end_of_text>")[0].replace("<start_of_text>", "").strip()
        for i in upstream.cpu().numpy()
    ]
    assert model.decode_captions(tokens) == expected
    assert all(isinstance(c, str) and c for c in expected)


@needs_java
def test_cli_end_to_end_on_a_tiny_coco_replica(tmp_path, tiny_coca, generation, monkeypatch):
    from tests.reliability.conftest import run_cli

    # METEOR's Java start costs ~10-30 s on 2 cores; its parity is test_meteor_equals_pycocoevalcap's (slow)
    monkeypatch.setattr(cap, "_meteor", lambda refs, hyps: 0.125)
    root = tmp_path / "coco"
    R.write_coco_karpathy(root, 4)
    out = tmp_path / "out" / "{dataset}_{task}.json"
    args = [
        "eval", "--task", "captioning", "--model_type", "open_clip", "--model", f"local-dir:{tiny_coca}",
        "--dataset", "mscoco_captions", "--dataset_root", root, "--allow_incomplete", "--batch_size", "3",
        "--num_workers", "0", "--cache_dir", tmp_path / "cache", "--output", out, "--quiet",
    ]  # fmt: skip
    result = run_cli(*args)
    result.assert_ok()
    record = json.loads((tmp_path / "out" / "mscoco_captions_captioning.json").read_text())
    assert record["task"] == "captioning"
    assert list(record["metrics"]) == list(cap.CAPTIONING_METRICS)
    assert record["metrics"]["METEOR"] == 0.125 and record["metrics"]["SPICE"] is None
    assert all(isinstance(record["metrics"][k], float) for k in ("Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr"))
    prov = record["zsbench"]
    assert prov["generation"]["generate_defaults"]["num_beams"] == 6
    assert "SimpleTokenizer" in prov["generation"]["decoding"]
    assert set(prov["metrics_unavailable"]) == {"SPICE"}
    assert prov["n_evaluated"] == 4 and prov["n_references"] == 21  # image 0 of the replica has 6 captions
    assert prov["cache"]["image_embeddings"] == "miss" and len(prov["generated_examples"]) == 3

    # A rerun generates nothing (the captions come from the cache) and scores the same.
    (tmp_path / "out" / "mscoco_captions_captioning.json").unlink()
    run_cli(*args).assert_ok()
    again = json.loads((tmp_path / "out" / "mscoco_captions_captioning.json").read_text())
    assert again["metrics"] == record["metrics"] and again["zsbench"]["cache"]["image_embeddings"] == "disk"

    # zsbench build: CLIP_benchmark's metric columns in its order, in the CSV and the Markdown table
    csv_path, md_path = tmp_path / "b.csv", tmp_path / "b.md"
    run_cli("build", tmp_path / "out" / "mscoco_captions_captioning.json", "--output", csv_path,
            "--markdown", md_path).assert_ok()  # fmt: skip
    header = csv_path.read_text().splitlines()[0].split(",")
    assert [h for h in header if h in cap.CAPTIONING_METRICS] == list(cap.CAPTIONING_METRICS)
    md_header = md_path.read_text().splitlines()[0]
    assert " | ".join(cap.CAPTIONING_METRICS) in md_header


def test_plan_and_dry_run_describe_a_captioning_job(tmp_path, tiny_coca, generation):
    from tests.reliability.conftest import run_cli

    root = tmp_path / "coco"
    R.write_coco_karpathy(root, 4)
    args = ["--task", "captioning", "--model_type", "open_clip", "--model", f"local-dir:{tiny_coca}",
            "--dataset", "mscoco_captions", "--dataset_root", root, "--allow_incomplete",
            "--cache_dir", tmp_path / "cache", "--output", tmp_path / "{dataset}.json"]  # fmt: skip
    result = run_cli("plan", *args, "--format", "json")
    result.assert_ok()
    plan = json.loads(result.out)
    job = plan["models"][0]["jobs"][0]
    assert job["task"] == "captioning" and job["texts"] == 0 and "generated" in job["texts_desc"]
    assert plan["models"][0]["image_sets"][0]["n"] == 4
    dry = run_cli("eval", *args, "--dry_run")
    dry.assert_ok()
    assert "captioning" in dry.out and not (tmp_path / "mscoco_captions.json").exists()
