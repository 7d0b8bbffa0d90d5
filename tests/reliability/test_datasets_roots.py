"""``zsbench datasets``: a bad ``--dataset_root`` template is one line, and it finds what ``eval`` generated."""

from __future__ import annotations

import pytest

from tests.reliability.conftest import run_cli


@pytest.mark.parametrize(
    ("template", "needles"),
    [
        ("data/{datset}", ("--dataset_root", "unknown field {datset}", "{dataset_cleaned}")),
        ("data/{dataset", ("--dataset_root", "not a valid template")),
        ("data/{dataset!z}", ("--dataset_root", "not a valid template")),
        ("", ("--dataset_root", "empty")),
    ],
)
def test_datasets_bad_root_template(template, needles, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("datasets", "--dataset_root", template)
    result.assert_one_line_error(*needles)
    assert result.out == ""  # refused before listing anything
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_datasets_finds_builtin_datasets_where_eval_put_them(tmp_path, monkeypatch):
    """Without --dataset_root, ``zsbench datasets`` looks where ``zsbench eval`` generates shapes (the data cache).

    It used to template the literal ``root`` for every dataset and call shapes missing while eval found it.
    """
    from zsbench.datasets import load_dataset, resolve_dataset_root

    monkeypatch.setenv("ZSBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    load_dataset("shapes_captions", resolve_dataset_root("shapes_captions", None))  # what eval does first
    result = run_cli("datasets")
    result.assert_ok()
    rows = {line.split()[0]: line.split() for line in result.out.splitlines() if line.strip()}
    assert rows["shapes_captions"][2] == "present", result.out
    assert rows["shapes_captions"][3] == str(tmp_path / "cache" / "data")
    assert rows["shapes"][2] == "missing", result.out
    assert rows["cifar10"][2:4] == ["missing", "root"], result.out
