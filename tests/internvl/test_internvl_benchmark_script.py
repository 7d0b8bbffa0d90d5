"""The GPU throughput script compiles and runs its CPU dry-run (the real run needs an H100/H200)."""

from __future__ import annotations

import importlib.util
import py_compile
import sys

import pytest

from zsbench.testing.shared import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "gpu" / "internvl_throughput.py"


def test_compiles() -> None:
    py_compile.compile(str(SCRIPT), doraise=True)


@pytest.mark.parametrize("mode", ["C", "G"])
def test_dry_run(mode: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("internvl_throughput", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    assert module.main(["--dry-run", "--mode", mode]) == 0
    out = capsys.readouterr().out
    assert f"InternVL-{mode}" in out
    table = out[out.index("tower") :].splitlines()
    assert [line.split()[0] for line in table[1:3]] == ["image", "text"]
    assert all(float(line.split()[2]) > 0 for line in table[1:3])  # samples/s measured
