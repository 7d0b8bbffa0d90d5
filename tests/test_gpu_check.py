"""benchmarks/gpu/check.py: its CPU dry run produces every section, one table and a strict JSON; its helpers.

The dry run is the only part of the GPU check that CI can run: it drives the same code paths (random InternVL
towers, the engine pipeline, torchrun with 2 gloo ranks, ``pytest -m gpu`` with the random InternVL plugin) with tiny
configs, so a refactor that breaks the check is caught before a GPU is lent.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu" / "check.py"
SECTIONS = ["1 InternVL towers", "2 pipeline", "3 torchrun", "4 pytest -m gpu"]


def _load_check():
    if "zsbench_gpu_check" not in sys.modules:
        spec = importlib.util.spec_from_file_location("zsbench_gpu_check", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
        spec.loader.exec_module(module)
    return sys.modules["zsbench_gpu_check"]


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check") / "gpu_check.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout, json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_dry_run_json_has_every_section_and_only_measurements_or_skips(dry_run):
    _, payload = dry_run
    assert payload["dry_run"] is True and payload["device"] == "cpu"
    assert [s["section"] for s in payload["sections"]] == SECTIONS
    rows = payload["rows"]
    for title in SECTIONS:
        mine = [r for r in rows if r["section"] == title]
        assert mine[0]["check"] == "elapsed" and mine[0]["value"] >= 0
        assert len(mine) > 1, f"{title} produced no row besides its elapsed time"
    for r in rows:
        assert set(r) == {"section", "check", "value", "unit", "goal", "met", "note", "extra"}
        measured = isinstance(r["value"], (int, float)) and r["unit"]
        assert measured or r["note"].startswith("skipped: "), r
        assert not r["note"].startswith("error:"), r


@pytest.mark.slow
def test_dry_run_covers_each_check(dry_run):
    _, payload = dry_run
    checks = {r["check"]: r for r in payload["rows"]}
    # 1: both dtypes, both towers, the 60% goal rows and the README projection
    for d in ("fp16", "bf16"):
        assert f"InternVL-C {d} image batch 2" in checks and f"InternVL-G {d} image batch 2" in checks
        assert f"InternVL-C {d} text len 32 batch 4" in checks
        assert checks[f"InternViT-6B image tower (InternVL-C {d}), best batch"]["unit"] == "TFLOP/s"
    projection = checks["README InternVL-C suite (42 cases), projected: image encoding"]
    assert projection["extra"]["cases"] == 42 and projection["unit"] == "min"
    # 2: the engine against the model alone, gpu_decode off and on; compile is GPU-only
    for decode in ("off", "on"):
        row = checks[f"pipeline / model alone (compile off, gpu_decode {decode})"]
        assert row["value"] > 0 and row["extra"]["images"] == 32
    assert checks["--compile rows"]["note"].startswith("skipped: ")
    # 3 and 4 are functional checks, meaningful on the CPU too
    torchrun = checks["torchrun 2 ranks == 1 process (metrics)"]
    assert torchrun["met"] is True and torchrun["value"] == 0
    assert torchrun["extra"]["single"] == torchrun["extra"]["two_ranks"]
    assert checks["pytest -m gpu: cases passed"]["met"] is True
    assert checks["network built (load_pth) per worker"]["value"] == 1
    assert checks["precision of the cases"]["met"] is True
    assert checks["--zs-report written"]["met"] is True


@pytest.mark.slow
def test_dry_run_prints_one_table_and_section_times(dry_run):
    stdout, payload = dry_run
    header = [line for line in stdout.splitlines() if line.startswith("section ") and line.endswith(" note")]
    assert len(header) == 1  # one table
    table = stdout[stdout.index(header[0]) :]
    for r in payload["rows"]:
        assert r["check"] in table
    for title in SECTIONS:
        assert f"-- {title}: " in stdout  # elapsed per section, as it runs


@pytest.mark.slow
def test_dry_run_puts_the_memory_estimate_beside_each_tower_row(dry_run):
    stdout, payload = dry_run
    towers = [r for r in payload["rows"] if r["check"].startswith("InternVL-") and "batch" in r["extra"]]
    assert towers
    for r in towers:  # zsbench plan's estimate for the tower at that batch; no GPU peak on the CPU
        assert r["extra"]["est_mem_gib"] > 0 and r["extra"]["peak_mem_gib"] is None
    header = [line for line in stdout.splitlines() if line.startswith("section ") and line.endswith(" note")]
    assert " memory " in header[0]


def test_memory_cell_shows_measured_next_to_estimated():
    cell = _load_check().memory_cell
    assert cell({"peak_mem_gib": 30.0, "est_mem_gib": 25.0}) == "30.0 / est. 25.0 GiB (x1.20)"
    assert cell({"peak_mem_gib": None, "est_mem_gib": 0.01}) == "- / est. 0.01 GiB"
    assert cell({"peak_mem_gib": 2.0}) == "2.0 GiB" and cell({}) == ""


def test_readme_suite_counts_each_image_set_once_per_model():
    suite = _load_check().count_readme_suite(REPO / "expected")
    assert suite.cases == 42
    # five ImageNet-1k languages: one image set; eight XTD languages: one; COCO en 5000 and COCO-CN 1000: two
    assert suite.images[("internvl_c_classification", "imagenet1k", "test")] == 50000
    assert [k for k in suite.images if k[1] == "multilingual_mscoco_captions"] == [
        ("internvl_c_retrieval", "multilingual_mscoco_captions", "test")
    ]
    assert suite.images[("internvl_c_retrieval", "mscoco_captions", "test@cn")] == 1000
    assert suite.images[("internvl_c_retrieval", "mscoco_captions", "test")] == 5000
    assert len(suite.images) == 31 and sum(suite.images.values()) == 473033
    assert suite.texts[("internvl_c_classification", "imagenet1k", "en")] == 1000 * 80
    assert suite.texts[("internvl_c_classification", "cifar10", "en")] is None  # names come from the data


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H100 NVL", 835.0),
        ("NVIDIA H200", 989.0),
        ("NVIDIA A100-SXM4-80GB", None),
    ],
)
def test_peak_by_device_name(name, peak):
    value, source = _load_check().peak_for_name(name)
    assert value == peak
    assert name in source


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--dry-run", "--sections", "1,7"], "--sections"), (["--dry-run", "--out", "{missing}/x.json"], "--out")],
)
def test_bad_arguments_are_one_line_before_any_work(tmp_path, args, needle):
    args = [a.replace("{missing}", str(tmp_path / "missing")) for a in args]
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu-check: error: ") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_without_cuda_the_real_check_refuses(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / "x.json")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2 and "--dry-run" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()
