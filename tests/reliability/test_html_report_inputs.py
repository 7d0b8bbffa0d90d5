"""HTML reports asked for where they cannot be made: one line before any file is read or written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import leftovers, run_cli

pytest_plugins = ["pytester"]

NO_MATPLOTLIB = "--html needs matplotlib: pip install matplotlib"


def _results(folder: Path, acc1: float = 0.5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "r.json"
    record = {"dataset": "cifar10", "model": "m", "pretrained": "p", "task": "zeroshot_classification",
              "metrics": {"acc1": acc1}, "language": "en"}  # fmt: skip
    path.write_text(json.dumps(record))
    return path


@pytest.fixture
def no_matplotlib(monkeypatch):
    """``import matplotlib`` raises ImportError, as where it is not installed."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_build_html_without_matplotlib_is_one_line_and_writes_nothing(tmp_path, no_matplotlib):
    src = _results(tmp_path / "runs")
    out = tmp_path / "out"
    result = run_cli("build", src, "--output", out / "b.csv", "--markdown", out / "b.md", "--html", out / "r.html")
    line = result.assert_one_line_error(NO_MATPLOTLIB)
    assert line == f"zsbench: error: {NO_MATPLOTLIB}"
    assert not out.exists()  # checked before the CSV and the Markdown are written


def test_compare_html_without_matplotlib_is_one_line_and_writes_nothing(tmp_path, no_matplotlib):
    base, new = _results(tmp_path / "base"), _results(tmp_path / "new", 0.4)
    result = run_cli("compare", base, new, "--fail", "acc1:1pp", "--html", tmp_path / "out" / "c.html")
    assert result.assert_one_line_error(NO_MATPLOTLIB) == f"zsbench: error: {NO_MATPLOTLIB}"
    assert result.out == "" and not (tmp_path / "out").exists()  # no comparison printed, no exit 1 without a report


def test_plugin_html_report_without_matplotlib_is_a_usage_error(pytester):
    pytester.makeconftest('import sys\nsys.modules["matplotlib"] = None\npytest_plugins = ["zsbench.pytest_plugin"]\n')
    pytester.makepyfile(test_x="def test_x():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--zs-report", "out/report.html")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "--zs-report out/report.html needs matplotlib: pip install matplotlib" in err and "Traceback" not in err
    assert not (pytester.path / "out").exists()


def test_html_path_that_is_not_html_is_one_line(tmp_path):
    src = _results(tmp_path / "runs")
    result = run_cli("build", src, "--output", tmp_path / "b.csv", "--html", tmp_path / "report.png")
    result.assert_one_line_error("--html", "report.png", ".html")
    assert not (tmp_path / "b.csv").exists() and not (tmp_path / "report.png").exists()


def test_images_folder_that_is_a_file_is_one_line_and_stays(tmp_path):
    src = _results(tmp_path / "runs")
    (tmp_path / "report_files").write_text("mine")
    result = run_cli("build", src, "--output", tmp_path / "b.csv", "--html", tmp_path / "report.html")
    result.assert_one_line_error("report_files", "is a file")
    assert (tmp_path / "report_files").read_text() == "mine"
    assert not (tmp_path / "b.csv").exists() and not (tmp_path / "report.html").exists()
    assert not leftovers(tmp_path)


def test_matplotlib_is_imported_only_when_html_is_asked(tmp_path):
    src = _results(tmp_path / "runs")
    code = (
        "import sys; from zsbench.cli import main\n"
        f"assert main(['build', {str(src)!r}, '--output', {str(tmp_path / 'b.csv')!r}]) == 0\n"
        f"assert main(['compare', {str(src)!r}, {str(src)!r}]) == 0\n"
        "print('matplotlib' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"
