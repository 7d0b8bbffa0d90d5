"""``zsbench compare BASE NEW``: one table per task, verdicts against --fail limits, one-sided results, settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import run_cli
from zsbench.engine.compare import compare, parse_thresholds

CLS = "zeroshot_classification"
RET = "zeroshot_retrieval"
SHA_A, SHA_B = "a" * 64, "b" * 64


def provenance(**changes: Any) -> dict[str, Any]:
    """A provenance block as eval writes it (the keys compare reads), with ``changes`` applied."""
    prov = {
        "schema_version": 1,
        "zsbench_version": "0.1.0",
        "torch_version": "2.5.0",
        "device_name": "x86_64",
        "precision": "fp32",
        "gpu_decode": False,
        "model_identity": {
            "model_type": "open_clip",
            "weights": {"source": "file", "path": "/a/model.pt", "kind": "full", "sha256": SHA_A, "size": 10},
            "preprocess": {"size": 224},
            "tokenizer": {},
            "library": {"open_clip": "3.3.0"},
        },
        "split": "test",
        "fingerprint": "stat",
        "n_images": 100,
        "n_evaluated": 100,
        "skipped_corrupt": 0,
        "allow_incomplete": False,
        "prompts_sha256": SHA_A,
        "n_prompts": 20,
        "date_utc": "2026-01-01T00:00:00+00:00",
        "timing": {"encode_images_s": 1.0},
        "dataset_info": {},
    }
    prov.update(changes)
    return prov


def record(dataset: str, metrics: dict[str, Any], *, task: str = CLS, language: str = "en", **prov: Any):
    return {
        "dataset": dataset,
        "model": "ViT-B-32",
        "pretrained": "laion2b",
        "task": task,
        "metrics": metrics,
        "language": language,
        "zsbench": provenance(**prov),
    }


def write(folder: Path, name: str, *records: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if len(records) == 1:
        path.write_text(json.dumps(records[0]))
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


CLS_BASE = {"acc1": 0.80, "acc5": 0.95, "mean_per_class_recall": 0.78}
RET_BASE = {"image_retrieval_recall@1": 0.50, "text_retrieval_recall@1": 0.60, "image_retrieval_recall@5": 0.80}


@pytest.fixture
def runs(tmp_path):
    """BASE and NEW folders with one classification and one retrieval result each; NEW's acc1 is 1pp lower."""
    base, new = tmp_path / "base", tmp_path / "new"
    write(base, "cifar10.json", record("cifar10", CLS_BASE))
    write(base, "flickr30k.json", record("flickr30k", RET_BASE, task=RET))
    write(new, "cifar10.json", record("cifar10", {**CLS_BASE, "acc1": 0.79}))
    write(new, "flickr30k.json", record("flickr30k", {**RET_BASE, "image_retrieval_recall@5": 0.81}, task=RET))
    return base, new


def table(out: str, task: str) -> list[str]:
    """The lines of ``task``'s table in the text output (header first)."""
    lines = out.splitlines()
    start = lines.index(task) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def row(out: str, task: str, metric: str, dataset: str | None = None) -> list[str]:
    for line in table(out, task)[1:]:
        cells = line.split()
        if cells[4] == metric and (dataset is None or cells[2] == dataset):
            return cells
    raise AssertionError(f"no row for {metric} in {task}:\n{out}")


def test_one_table_per_task_with_base_new_and_difference(runs):
    base, new = runs
    res = run_cli("compare", base, new)
    res.assert_ok()
    cls = table(res.out, CLS)
    assert cls[0].split() == ["model", "pretrained", "dataset", "language", "metric", "base", "new", "diff"]
    assert row(res.out, CLS, "acc1") == ["ViT-B-32", "laion2b", "cifar10", "en", "acc1", "0.8000", "0.7900", "-1.00pp"]
    assert row(res.out, CLS, "acc5")[5:] == ["0.9500", "0.9500", "+0.00pp"]
    assert row(res.out, RET, "image_retrieval_recall@5")[5:] == ["0.8000", "0.8100", "+1.00pp"]
    assert [line.split()[4] for line in cls[1:]] == ["acc1", "acc5", "mean_per_class_recall"]  # build's order
    # aligned columns: the numbers are right-aligned under their headers
    diff_end = cls[0].index("diff") + len("diff")
    assert all(line.index("pp") + 2 == diff_end for line in cls[1:])
    assert "no --fail limits" in res.out.splitlines()[-1]


def test_a_drop_beyond_the_limit_exits_1_and_names_the_metric(runs):
    base, new = runs
    res = run_cli("compare", base, new, "--fail", "acc1:0.5pp")
    assert res.rc == 1, res.out + res.err
    assert "Traceback" not in res.err
    assert row(res.out, CLS, "acc1")[-2:] == ["0.5pp", "FAIL"]
    assert row(res.out, CLS, "acc5")[-2:] == ["-", "-"]  # no limit for acc5
    summary = res.out.splitlines()[-1]
    assert summary.startswith("FAIL: 1 of") and "acc1 of ViT-B-32 laion2b cifar10 en -1.00pp (limit 0.5pp)" in summary


@pytest.mark.parametrize("limit", ["1.5pp", "0.015", "1pp"])
def test_a_drop_within_the_limit_exits_0(runs, limit):
    base, new = runs
    res = run_cli("compare", base, new, "--fail", f"acc1:{limit}")
    res.assert_ok()
    assert row(res.out, CLS, "acc1")[-1] == "ok"
    assert res.out.splitlines()[-1].startswith("OK:")


def test_only_a_drop_fails_never_a_gain(tmp_path):
    write(tmp_path / "b", "r.json", record("cifar10", {"acc1": 0.5}))
    write(tmp_path / "n", "r.json", record("cifar10", {"acc1": 0.9}))
    run_cli("compare", tmp_path / "b", tmp_path / "n", "--fail", "*:0pp").assert_ok()
    res = run_cli("compare", tmp_path / "n", tmp_path / "b", "--fail", "*:0pp")  # the same, the other way round
    assert res.rc == 1


@pytest.mark.parametrize(("new_acc1", "rc"), [(0.795, 0), (0.7949, 1)])
def test_a_drop_equal_to_the_limit_passes_despite_float_rounding(tmp_path, new_acc1, rc):
    write(tmp_path / "b", "r.json", record("cifar10", {"acc1": 0.80}))
    write(tmp_path / "n", "r.json", record("cifar10", {"acc1": new_acc1}))
    assert 0.80 - 0.795 > 0.005  # the float rounding this test is about
    for limit in ("0.5pp", "0.005"):
        assert run_cli("compare", tmp_path / "b", tmp_path / "n", "--fail", f"acc1:{limit}").rc == rc


def test_star_sets_every_limit_and_a_named_metric_overrides_it(tmp_path):
    write(tmp_path / "b", "r.json", record("cifar10", {"acc1": 0.80, "acc5": 0.95}))
    write(tmp_path / "n", "r.json", record("cifar10", {"acc1": 0.79, "acc5": 0.945}))
    res = run_cli("compare", tmp_path / "b", tmp_path / "n", "--fail", "*:0.1pp", "--fail", "acc1:2pp")
    assert res.rc == 1
    assert row(res.out, CLS, "acc1")[-2:] == ["2pp", "ok"]
    assert row(res.out, CLS, "acc5")[-2:] == ["0.1pp", "FAIL"]


def test_a_metric_that_became_null_fails_its_limit_and_null_on_both_sides_does_not(tmp_path):
    write(tmp_path / "b", "r.json", record("cifar10", {"acc1": 0.8, "acc5": 0.9, "mean_per_class_recall": None}))
    write(tmp_path / "n", "r.json", record("cifar10", {"acc1": 0.8, "acc5": None, "mean_per_class_recall": None}))
    res = run_cli("compare", tmp_path / "b", tmp_path / "n", "--fail", "*:1pp")
    assert res.rc == 1
    assert row(res.out, CLS, "acc5")[5:] == ["0.9000", "null", "-", "1pp", "FAIL"]
    assert row(res.out, CLS, "mean_per_class_recall")[5:] == ["null", "null", "-", "1pp", "n/a"]
    assert "acc5 of ViT-B-32 laion2b cifar10 en became null" in res.out
    assert run_cli("compare", tmp_path / "b", tmp_path / "n", "--fail", "acc1:1pp").rc == 0


def test_results_on_only_one_side_are_listed_not_dropped(runs):
    base, new = runs
    write(base, "imagenet1k.json", record("imagenet1k", {"acc1": 0.7}))
    write(new, "cifar10_cn.json", record("cifar10", {"acc1": 0.6}, language="cn"))
    write(new, "flickr30k.json", record("flickr30k", {**RET_BASE, "image_retrieval_recall@10": 0.9}, task=RET))
    res = run_cli("compare", base, new, "--fail", "acc1:5pp")
    res.assert_ok()
    lines = res.out.splitlines()
    only_base = lines[lines.index("Only in BASE (not compared):") + 2]
    assert only_base.split() == [CLS, "ViT-B-32", "laion2b", "imagenet1k", "en", "acc1=0.7000"]
    only_new = lines[lines.index("Only in NEW (not compared):") + 2 :]
    assert any(line.split()[:5] == [CLS, "ViT-B-32", "laion2b", "cifar10", "cn"] for line in only_new)
    assert any("image_retrieval_recall@10=0.9000 (only these metrics)" in line for line in only_new)
    assert "3 entries only on one side" in lines[-1]
    # none of them is in the tables
    assert all("imagenet1k" not in line for line in table(res.out, CLS))
    assert all("@10" not in line for line in table(res.out, RET))


def test_settings_that_differ_are_shown_above_the_tables(tmp_path):
    b, n = tmp_path / "b", tmp_path / "n"
    write(b, "c.json", record("cifar10", {"acc1": 0.8}))
    write(b, "i.json", record("imagenet1k", {"acc1": 0.7}))
    # NEW: bf16 and another zsbench everywhere; other prompts, a partial split, other weights for imagenet1k only.
    # The same weights at another path and another date/timing are not differences.
    ident = provenance()["model_identity"]
    moved = {**ident, "weights": {**ident["weights"], "path": "/elsewhere/model.pt"}}
    other = {**ident, "weights": {**ident["weights"], "sha256": SHA_B}}
    common = {"precision": "bf16", "zsbench_version": "0.2.0", "date_utc": "2027-01-01", "timing": {}}
    write(n, "c.json", record("cifar10", {"acc1": 0.8}, model_identity=moved, **common))
    write(
        n,
        "i.json",
        record(
            "imagenet1k",
            {"acc1": 0.6},
            model_identity=other,
            prompts_sha256=SHA_B,
            n_images=90,
            n_evaluated=90,
            allow_incomplete=True,
            **common,
        ),
    )
    res = run_cli("compare", b, n)
    res.assert_ok()
    lines = res.out.splitlines()
    start = lines.index("Settings that differ between the runs (they can explain differences below):")
    assert start < lines.index(CLS)
    settings = {line.split(":")[0].strip(): line.strip() for line in lines[start + 1 : lines.index(CLS)] if line}
    assert settings["zsbench_version"] == "zsbench_version: 0.1.0 -> 0.2.0  (all 2 shared results)"
    assert settings["precision"] == "precision: fp32 -> bf16  (all 2 shared results)"
    one = "(1 of 2 shared results: zeroshot_classification ViT-B-32 laion2b imagenet1k en)"
    assert settings["model weights (sha256)"] == f"model weights (sha256): aaaaaaaaaaaa -> bbbbbbbbbbbb  {one}"
    assert settings["prompts_sha256"] == f"prompts_sha256: aaaaaaaaaaaa -> bbbbbbbbbbbb  {one}"
    assert settings["n_images"] == f"n_images: 100 -> 90  {one}"
    assert settings["allow_incomplete"] == f"allow_incomplete: false -> true  {one}"
    assert set(settings) == {
        "zsbench_version",
        "precision",
        "model weights (sha256)",
        "prompts_sha256",
        "n_images",
        "n_evaluated",
        "allow_incomplete",
    }
    # the JSON output has them with the full values
    data = json.loads(run_cli("compare", b, n, "--format", "json").out)
    weights = next(d for d in data["settings_differ"] if d["setting"] == "model weights (sha256)")
    assert (weights["base"], weights["new"]) == (SHA_A, SHA_B)
    assert weights["results"] == [
        {"task": CLS, "model": "ViT-B-32", "pretrained": "laion2b", "dataset": "imagenet1k", "language": "en"}
    ]


def test_same_settings_are_said_to_be_the_same(runs):
    base, new = runs
    assert "Settings: the recorded settings of the shared results are the same" in run_cli("compare", base, new).out


def test_a_zsbench_build_csv_is_a_side(runs, tmp_path):
    base, new = runs
    csv_path = tmp_path / "new.csv"
    run_cli("build", new, "--output", csv_path).assert_ok()
    res = run_cli("compare", base, csv_path, "--fail", "acc1:0.5pp")
    assert res.rc == 1
    assert row(res.out, CLS, "acc1")[5:] == ["0.8000", "0.7900", "-1.00pp", "0.5pp", "FAIL"]
    assert row(res.out, RET, "image_retrieval_recall@5")[5:8] == ["0.8000", "0.8100", "+1.00pp"]
    assert f"NEW {csv_path} has no zsbench provenance block" in res.out
    # the CSV is the union of both tasks' columns: a retrieval metric is not invented for the classification row
    assert "Only in" not in res.out
    # CSV against CSV, too
    base_csv = tmp_path / "base.csv"
    run_cli("build", base, "--output", base_csv).assert_ok()
    assert run_cli("compare", base_csv, csv_path, "--fail", "acc1:1pp").rc == 0


def test_a_csv_in_a_folder_is_left_out_with_a_note(runs):
    base, new = runs
    run_cli("build", new, "--output", new / "benchmark.csv").assert_ok()
    res = run_cli("compare", base, new)
    res.assert_ok()
    assert f"NEW: ignored benchmark.csv in {new}" in res.out
    assert "appears" not in res.out and "is used" not in res.out  # no duplicates from reading the CSV too


def test_the_same_result_twice_on_one_side_the_later_file_wins_with_a_note(runs):
    base, new = runs
    write(new, "zz_rerun.json", record("cifar10", {**CLS_BASE, "acc1": 0.81}))
    res = run_cli("compare", base, new, "--fail", "acc1:0.5pp")
    res.assert_ok()
    assert row(res.out, CLS, "acc1")[5:7] == ["0.8000", "0.8100"]
    assert (
        f"NEW: zeroshot_classification ViT-B-32 laion2b cifar10 en is in {new / 'cifar10.json'} and "
        f"{new / 'zz_rerun.json'}; the later file (zz_rerun.json) is used" in res.out
    )


def test_the_same_result_twice_in_one_json_lines_file(tmp_path):
    b = write(tmp_path, "b.jsonl", record("cifar10", {"acc1": 0.8}), record("cifar10", {"acc1": 0.7}))
    n = write(tmp_path, "n.json", record("cifar10", {"acc1": 0.7}))
    res = run_cli("compare", b, n, "--fail", "acc1:0pp")
    res.assert_ok()
    assert f"is in {b} twice (records 1 and 2); the later record is used" in res.out


def test_single_files_and_json_lines_are_sides(tmp_path):
    b = write(tmp_path, "base.jsonl", record("cifar10", CLS_BASE), record("flickr30k", RET_BASE, task=RET))
    n = write(tmp_path, "new.json", record("cifar10", {**CLS_BASE, "acc1": 0.9}))
    res = run_cli("compare", b, n, "--fail", "*:0pp")
    res.assert_ok()
    assert row(res.out, CLS, "acc1")[5:] == ["0.8000", "0.9000", "+10.00pp", "0pp", "ok"]
    assert "Only in BASE" in res.out and RET in res.out.split("Only in BASE")[1]


def test_json_and_markdown_formats(runs):
    base, new = runs
    res = run_cli("compare", base, new, "--fail", "acc1:0.5pp", "--format", "json")
    assert res.rc == 1
    data = json.loads(res.out)
    acc1 = next(r for r in data["tasks"][CLS] if r["metric"] == "acc1")
    assert acc1["base"] == 0.80 and acc1["new"] == 0.79 and acc1["diff"] == pytest.approx(-0.01)
    assert acc1["limit"] == pytest.approx(0.005) and acc1["verdict"] == "FAIL"
    assert data["summary"]["exit_code"] == 1 and data["summary"]["failed"] == 1
    assert data["thresholds"] == {"acc1": {"absolute": 0.005, "given": "0.5pp"}}
    md = run_cli("compare", base, new, "--fail", "acc1:0.5pp", "--format", "markdown")
    assert md.rc == 1
    assert f"### {CLS}" in md.out
    assert "| model | pretrained | dataset | language | metric | base | new | diff | limit | verdict |" in md.out
    assert "| ViT-B-32 | laion2b | cifar10 | en | acc1 | 0.8000 | 0.7900 | -1.00pp | 0.5pp | FAIL |" in md.out


def test_parse_thresholds():
    t = parse_thresholds("acc1:0.5pp, image_retrieval_recall@5:1pp,*:0.02,")
    assert {m: v.absolute for m, v in t.items()} == {
        "acc1": pytest.approx(0.005),
        "image_retrieval_recall@5": pytest.approx(0.01),
        "*": pytest.approx(0.02),
    }
    assert t["acc1"].given == "0.5pp"


def test_the_api_returns_the_rows(runs):
    base, new = runs
    c = compare(base, new, parse_thresholds("acc1:0.5pp"))
    assert c.exit_code == 1
    assert [(r.dataset, r.metric) for r in c.failed] == [("cifar10", "acc1")]
    assert c.n_shared == 2 and len(c.rows) == 6


def test_linear_probe_settings_are_compared_as_settings_not_metrics(tmp_path):
    """CLIP_benchmark writes weight_decay, epochs, ..., normalized (a bool) into `metrics`: a lower weight decay is
    no regression, and a boolean is no bad record."""
    from zsbench.engine.compare import compare, parse_thresholds

    def probe(acc: float, wd: float) -> dict:
        return {"dataset": "shapes", "model": "m", "pretrained": "p", "task": "linear_probe", "language": "en",
                "metrics": {"lp_acc1": acc, "lp_acc5": 1.0, "weight_decay": wd, "epochs": 10, "seed": 0,
                            "fewshot_k": -1, "normalized": True},
                "zsbench": {"schema_version": 1}}  # fmt: skip

    for side, (acc, wd) in {"base": (0.90, 0.1), "new": (0.90, 1e-6)}.items():
        (tmp_path / side).mkdir()
        (tmp_path / side / "r.json").write_text(json.dumps(probe(acc, wd)))
    result = compare(tmp_path / "base", tmp_path / "new", parse_thresholds("*:0pp"))
    assert result.exit_code == 0
    assert {row.metric for row in result.rows} == {"lp_acc1", "lp_acc5"}
    assert [d.setting for d in result.settings] == ["linear-probe settings"]
