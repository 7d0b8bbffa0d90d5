"""Expected numbers keyed by device kind and precision (transformers' ``Expectations``, for snapshots).

``"expected": {"default": {...}, "cpu/fp32": {...}, "cuda/bf16": {...}, "cuda": {...}}``: a run compares with its
exact ``<device>/<precision>`` entry, else its device's, else ``default``; ``--snapshot-update`` writes only the run's
own entry. Before: ``expected`` was one set of numbers for every device and precision, so a GPU bf16 run and a CPU
fp32 run of one case could not both pass within 0.002, and an object under ``expected`` was refused as a metric.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.reliability.conftest import run_cli
from tests.snapshot_project import fake_case, run_project, start_project
from zsbench.engine.snapshots import SnapshotError, load_snapshot, update_snapshot

pytest_plugins = ["pytester"]

WRONG = {"acc1": 0.123, "acc5": None, "mean_per_class_recall": 0.456}  # what the fake model never measures


def _write(path: Path, weights: Path | str, expected, **extra) -> Path:
    case = fake_case(weights, markers=["tiny"], tolerance=0.002, published={"acc1": 0.5}, expected=expected, **extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(case, indent=2))
    return path


def _props(xml: Path) -> dict[str, str]:
    [case] = ET.parse(xml).getroot().iter("testcase")
    return {p.get("name"): p.get("value") for p in case.iter("property")}


def test_cpu_run_uses_its_cpu_fp32_entry_and_an_update_writes_only_that_entry(pytester):
    weights = start_project(pytester)
    path = _write(pytester.path / "expected" / "fake_model" / "fake_cls__en.json", weights,
                  {"default": WRONG, "cuda/bf16": WRONG, "cuda": WRONG})  # fmt: skip
    # No cpu entry yet: the CPU run falls back to "default", which is wrong; the update records cpu/fp32 only.
    result = run_project(pytester, "--snapshot-update")
    result.assert_outcomes(passed=1)
    snap = json.loads(path.read_text())
    measured = snap["expected"]["cpu/fp32"]
    assert set(measured) == {"acc1", "acc5", "mean_per_class_recall"} and measured["acc1"] != WRONG["acc1"]
    assert {k: v for k, v in snap["expected"].items() if k != "cpu/fp32"} == {
        "default": WRONG, "cuda/bf16": WRONG, "cuda": WRONG}  # fmt: skip
    assert snap["published"] == {"acc1": 0.5} and snap["provenance"]["device"] == "cpu"

    # The same case, a cuda/bf16 entry that would fail: the CPU run passes with cpu/fp32, and says so.
    result = run_project(pytester, "--junitxml", "junit.xml", "--zs-report", "report.md")
    result.assert_outcomes(passed=1)
    props = _props(pytester.path / "junit.xml")
    assert props["zsbench.expected_entry"] == "cpu/fp32" and props["zsbench.verdict"] == "pass"
    assert float(props["zsbench.acc1.expected"]) == pytest.approx(measured["acc1"])
    assert "| pass [cpu/fp32] |" in (pytester.path / "report.md").read_text()

    # A mutation: the cpu/fp32 entry beyond the tolerance fails the CPU run, naming the entry.
    before = path.read_text()
    snap["expected"]["cpu/fp32"] = {**measured, "acc1": measured["acc1"] + 0.01}
    path.write_text(json.dumps(snap, indent=2))
    result = run_project(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*differs from*fake_cls__en.json for cpu/fp32*", "acc1*NO"])

    # --snapshot-update rewrites cpu/fp32 back to the measured numbers; the other entries stay byte for byte.
    run_project(pytester, "--snapshot-update").assert_outcomes(passed=1)
    after = json.loads(path.read_text())
    assert after["expected"]["cpu/fp32"] == measured
    assert {k: v for k, v in after["expected"].items() if k != "cpu/fp32"} == {
        "default": WRONG, "cuda/bf16": WRONG, "cuda": WRONG}  # fmt: skip
    assert after["published"] == {"acc1": 0.5}
    assert json.loads(before)["expected"] == after["expected"]


def test_update_new_only_records_a_keyed_case_without_an_entry_for_this_run(pytester):
    weights = start_project(pytester)
    path = _write(pytester.path / "expected" / "fake_model" / "fake_cls__en.json", weights,
                  {"default": None, "cuda/bf16": WRONG})  # fmt: skip
    result = run_project(pytester)
    result.assert_outcomes(failed=1)  # no numbers for cpu/fp32 (cuda/bf16 is another run's): new for this run
    result.stdout.fnmatch_lines(["*has no expected numbers for cpu/fp32 yet*--snapshot-update*"])
    run_project(pytester, "--snapshot-update-new-only").assert_outcomes(passed=1)
    snap = json.loads(path.read_text())
    assert set(snap["expected"]) == {"default", "cuda/bf16", "cpu/fp32"} and snap["expected"]["default"] is None


def _case(tmp_path: Path, expected) -> Path:
    return _write(tmp_path / "expected" / "m" / "fake_cls__en.json", "w.bin", expected)


def test_entry_choice_exact_then_device_then_default(tmp_path):
    case = load_snapshot(_case(tmp_path, {"default": {"acc1": 0.1}, "cuda": {"acc1": 0.2}, "cuda/bf16": {"acc1": 0.3},
                                          "cpu/fp32": {"acc1": 0.4}}))  # fmt: skip
    picks = {
        ("cuda:1", "bf16"): ("cuda/bf16", 0.3),
        ("cuda:0", "amp_fp16"): ("cuda", 0.2),
        ("cpu", "fp32"): ("cpu/fp32", 0.4),
        ("cpu", "amp_bf16"): ("default", 0.1),
        ("mps", "fp32"): ("default", 0.1),
    }
    for (device, precision), (entry, acc1) in picks.items():
        run = case.for_run(device, precision)
        assert (run.entry, run.expected["acc1"], run.run_key) == (entry, acc1, f"{device.split(':')[0]}/{precision}")
    # a flat file is one "default" entry for every run, as before
    flat = load_snapshot(_case(tmp_path, {"acc1": 0.5})).for_run("cuda:0", "bf16")
    assert (flat.entry, flat.expected, flat.expectations) == ("default", {"acc1": 0.5}, None)


def test_update_of_a_flat_file_stays_flat(tmp_path):
    path = _case(tmp_path, {"acc1": 0.5})
    case = load_snapshot(path).for_run("cuda:0", "bf16")
    update_snapshot(case, {"acc1": 0.7}, {"device": "cuda:0", "precision": "bf16"})
    assert json.loads(path.read_text())["expected"] == {"acc1": 0.7}


@pytest.mark.parametrize(
    ("expected", "key"),
    [
        ({"gpu-bf16": {"acc1": 0.5}}, "gpu-bf16"),
        ({"default": {"acc1": 0.5}, "cuda/bfloat16": {"acc1": 0.5}}, "cuda/bfloat16"),
        ({"default": {"acc1": 0.5}, "tpu": {"acc1": 0.5}}, "tpu"),
        ({"cpu/fp32": {"acc1": 0.5}, "acc1": 0.5}, "acc1"),  # the two forms mixed
    ],
)
def test_unknown_entry_key_is_refused_in_one_line_naming_file_and_key(tmp_path, expected, key):
    path = _case(tmp_path, expected)
    with pytest.raises(SnapshotError) as err:
        load_snapshot(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and f'"expected" key "{key}"' in message
    assert "cpu, cuda, mps" in message and '"<device>/<precision>"' in message  # what a key may be
    # and through the CLI (zsbench build --report reads every snapshot): exit 2, one line, the file and the key
    record = tmp_path / "r.json"
    record.write_text(json.dumps({"dataset": "fake_cls", "model": "fake_model", "pretrained": "w.bin", "language": "en",
                                  "task": "zeroshot_classification", "metrics": {"acc1": 0.5}}))  # fmt: skip
    run_cli("build", record, "--output", tmp_path / "x.csv", "--report", tmp_path / "r.md",
            "--expected", tmp_path / "expected").assert_one_line_error(str(path), key)  # fmt: skip
    assert not (tmp_path / "r.md").exists() and not (tmp_path / "x.csv").exists()


def test_an_entry_that_is_not_metrics_is_refused(tmp_path):
    path = _case(tmp_path, {"default": {"acc1": 0.5}, "cpu/fp32": [0.5]})
    with pytest.raises(SnapshotError, match=r'"expected"\."cpu/fp32" must be an object of metric'):
        load_snapshot(path)
    path = _case(tmp_path, {"cpu/fp32": {"acc1": float("nan")}})
    with pytest.raises(SnapshotError, match=r'"expected"\."cpu/fp32"\."acc1" must be a finite number'):
        load_snapshot(path)


def test_snapshot_new_by_device_writes_the_keyed_form(tmp_path):
    args = ("snapshot", "new", "--model", "zsbench-tiny-shapes", "--pretrained", "builtin:zsbench-tiny-shapes",
            "--dataset", "shapes", "--expected_dir", tmp_path)  # fmt: skip
    run_cli(*args, "--by_device").assert_ok()
    path = tmp_path / "zsbench-tiny-shapes" / "shapes__en.json"
    assert json.loads(path.read_text())["expected"] == {"default": None}
    case = load_snapshot(path)
    assert case.is_new and case.for_run("cpu", "fp32").is_new and case.expectations == {"default": None}
    run_cli(*args, "--force").assert_ok()  # without the flag: the flat form, as before
    assert json.loads(path.read_text())["expected"] is None
