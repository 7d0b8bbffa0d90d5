"""``zsbench compare``: each bad input is exit 2 and one line naming it; compare never writes a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.conftest import leftovers, run_cli

RECORD = {
    "dataset": "cifar10",
    "model": "ViT-B-32",
    "pretrained": "laion2b",
    "task": "zeroshot_classification",
    "metrics": {"acc1": 0.8, "acc5": 0.95},
    "language": "en",
}


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "good.json"
    path.write_text(json.dumps(RECORD))
    return path


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("acc1", "'acc1' is not METRIC:LIMIT"),
        ("acc1:", "'acc1:' is not METRIC:LIMIT"),
        (":1pp", "':1pp' is not METRIC:LIMIT"),
        ("acc1:abc", "'abc' is not a number"),
        ("acc1:-1pp", "finite number >= 0"),
        ("acc1:nan", "finite number >= 0"),
        ("acc1:infpp", "finite number >= 0"),
        ("acc1:1", "did you mean 1pp?"),  # an absolute 1 can never fail: surely meant percentage points
        ("acc1:100pp", "can never fail"),
        ("acc1:0.5%", "write percentage points as 0.5pp"),
        ("acc1:1pp,acc1:2pp", "names 'acc1' twice"),
        ("", "--fail is empty"),
    ],
)
def test_an_unparseable_fail_is_one_line_before_any_file_is_read(tmp_path, spec, needle):
    # the paths do not exist: the --fail error comes first (cheap checks before reading results)
    res = run_cli("compare", tmp_path / "nope1", tmp_path / "nope2", "--fail", spec)
    res.assert_one_line_error("--fail", needle)


def test_a_fail_naming_a_metric_neither_side_has_is_refused(good):
    # a typo would otherwise never fail, so a regression would pass silently
    res = run_cli("compare", good, good, "--fail", "acc@1:0.5pp")
    res.assert_one_line_error("--fail names acc@1, which neither side has", "acc1, acc5")


def test_a_path_that_does_not_exist(tmp_path, good):
    res = run_cli("compare", good, tmp_path / "missing")
    res.assert_one_line_error(f"NEW {tmp_path / 'missing'} does not exist")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("notes.json", b"my notes, not JSON\n", "is not a result file"),
        ("binary.json", b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "is not a result file"),
        ("empty.json", b"", "is empty"),
        (
            "config.json",
            json.dumps({"embed_dim": 512}).encode(),
            "no 'dataset', 'model', 'pretrained', 'task', 'metrics'",
        ),
        ("list.json", b"[1, 2]", "a JSON int, not an object"),
        ("str.json", json.dumps({**RECORD, "metrics": {"acc1": "0.8"}}).encode(), "metric 'acc1' is \"0.8\""),
        ("bool.json", json.dumps({**RECORD, "metrics": {"acc1": True}}).encode(), "metric 'acc1' is true"),
        ("nested.json", json.dumps({**RECORD, "metrics": [0.8]}).encode(), "'metrics' is not an object"),
        ("model.json", json.dumps({**RECORD, "model": 3}).encode(), "'model' is not a string"),
    ],
)
def test_a_file_that_is_not_a_result_file(tmp_path, good, name, content, needle):
    bad = tmp_path / "bad" / name
    bad.parent.mkdir()
    bad.write_bytes(content)
    before = files_of(tmp_path)
    for side, args in (("BASE", (bad, good)), ("NEW", (good, bad))):
        res = run_cli("compare", *args)
        res.assert_one_line_error(f"{side} {bad}", needle)
        # a folder holding it is refused the same way (nothing in it is skipped silently)
        res = run_cli("compare", *(bad.parent if a == bad else a for a in args))
        res.assert_one_line_error(str(bad), needle)
    assert files_of(tmp_path) == before and not leftovers(tmp_path)  # compare writes nothing


def test_a_jsonl_record_that_is_not_a_result_is_named_by_its_number(tmp_path, good):
    bad = tmp_path / "runs.jsonl"
    bad.write_text(json.dumps(RECORD) + "\n" + json.dumps({"dataset": "x"}) + "\n")
    run_cli("compare", good, bad).assert_one_line_error(f"NEW {bad}: record 2 is not a result record", "no 'model'")


def test_an_empty_folder_or_one_with_only_a_csv(tmp_path, good):
    empty = tmp_path / "empty"
    empty.mkdir()
    run_cli("compare", empty, good).assert_one_line_error(f"BASE folder {empty} holds no result files")
    (empty / "benchmark.csv").write_text("dataset,model,pretrained,task,language,acc1\n")
    run_cli("compare", empty, good).assert_one_line_error("it has benchmark.csv: pass a CSV itself")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("a,b\n1,2\n", "is not a zsbench build CSV (no column dataset, model, pretrained, task)"),
        ("dataset,model,pretrained,task,language,acc1\n", "has no result rows"),
        ("dataset,model,pretrained,task,language,acc1\ncifar10,ViT-B-32,laion2b,zeroshot_classification,en,high\n",
         "line 2 column 'acc1' is 'high', not a number"),
        ("dataset,model,pretrained,task,language,acc1\ncifar10,ViT-B-32,laion2b,zeroshot_classification,en,0.8,9\n",
         "line 2 has more cells than the header"),
    ],
)  # fmt: skip
def test_a_csv_that_is_not_a_build_csv(tmp_path, good, content, needle):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    run_cli("compare", good, bad).assert_one_line_error(f"NEW {bad}", needle)


def test_a_binary_csv(tmp_path, good):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    run_cli("compare", bad, good).assert_one_line_error(f"BASE {bad}", "is not a zsbench build CSV")


def test_no_shared_result_at_all(tmp_path, good):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**RECORD, "dataset": "cifar100"}))
    res = run_cli("compare", good, other)
    res.assert_one_line_error("share no result", "BASE has zeroshot_classification ViT-B-32 laion2b cifar10 en")


def test_an_unknown_format_is_a_usage_error(good):
    res = run_cli("compare", good, good, "--format", "html")
    assert res.rc == 2 and "Traceback" not in res.err and "invalid choice: 'html'" in res.err


def test_a_folder_whose_results_are_in_subfolders_names_them(tmp_path, good):
    top = tmp_path / "runs"
    (top / "run1").mkdir(parents=True)
    (top / "run1" / "r.json").write_text(json.dumps(RECORD))
    run_cli("compare", top, good).assert_one_line_error(f"BASE folder {top} holds no result files", "run1/")
    # beside top-level results, the subfolder is not read, and the output says so
    (top / "r.json").write_text(json.dumps(RECORD))
    res = run_cli("compare", top, good)
    res.assert_ok()
    assert f"BASE: subfolders of {top} are not read: run1/" in res.out
