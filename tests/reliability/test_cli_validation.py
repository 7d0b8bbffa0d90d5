"""Bad settings are one line each, before any model loads or image is encoded, and nothing is written."""

from __future__ import annotations

import pathlib

import pytest

from tests.reliability.conftest import run_cli, run_cli_subprocess


@pytest.fixture
def refused(fake_eval, tmp_path, fake_model, monkeypatch):
    """Run ``zsbench eval`` on the fake model and assert a one-line refusal before any model load or output."""
    from zsbench.engine import models as engine_models

    loads: list[object] = []

    def load(ref: object, *args: object) -> None:
        loads.append(ref)
        raise AssertionError("the model was loaded before the bad setting was refused")

    monkeypatch.setattr(engine_models, "build_model", load)

    def run(*args: object, needles: tuple[str, ...]) -> str:
        res = fake_eval("--dataset", "fake_cls", *map(str, args))
        assert loads == [], f"the model was loaded before the bad setting was refused:\n{res.err}"
        line = res.assert_one_line_error(*needles)
        assert not (tmp_path / "out").exists()
        return line

    return run


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--batch_size", "0"], ("--batch_size", ">= 1", "0")),
        (["--batch_size", "-4"], ("--batch_size", "-4")),
        (["--num_workers", "-1"], ("--num_workers", ">= 0")),
        (["--recall_k", "1", "0"], ("--recall_k", ">= 1")),
        (["--recall_k", "-5"], ("--recall_k",)),
    ],
)
def test_bad_numbers(refused, args, needles):
    refused(*args, needles=needles)


def test_recall_k_must_be_integers_through_the_api(tmp_path, fake_model):
    from zsbench.engine import Engine
    from zsbench.engine.config import EvalConfig
    from zsbench.errors import ZsbenchError

    config = EvalConfig(model_type="fake", models=[("m", "p")], datasets=[("fake_ret", None)], recall_k=[1, 2.5],
                        cache_dir="", output=str(tmp_path / "out" / "r.json"), verbose=False, progress=False)  # fmt: skip
    with pytest.raises(ZsbenchError, match="--recall_k takes integers >= 1"):
        Engine(config).run()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("flag", "template", "needles"),
    [
        ("--output", "{dataset.json", ("--output", "{dataset.json", "not a valid template")),
        ("--output", "{datset}_{model}.json", ("--output", "unknown field {datset}", "{dataset}")),
        ("--output", "res_}.json", ("--output", "not a valid template")),
        ("--output", "{0}.json", ("--output", "unknown field {0}")),
        ("--output", "{dataset!q}.json", ("--output", "not a valid template")),
        ("--dataset_root", "data/{dataset", ("--dataset_root", "not a valid template")),
        ("--dataset_root", "data/{name}", ("--dataset_root", "unknown field {name}", "{dataset_cleaned}")),
    ],
)
def test_bad_templates(refused, tmp_path, flag, template, needles):
    value = str(tmp_path / "out" / template) if flag == "--output" else template
    refused(flag, value, needles=needles)


def test_output_below_a_regular_file(refused, tmp_path):
    blocker = tmp_path / "somefile.txt"
    blocker.write_text("x")
    refused("--output", blocker / "x.json", needles=("--output", str(blocker), "is a file, not a folder"))
    assert blocker.read_text() == "x"


def test_output_that_is_a_folder(refused, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    refused("--output", folder, needles=("--output", str(folder), "is a folder"))


class _RunsCodeOnLoad:
    """Unpickling this with plain pickle would create a file: weights_only must refuse it without running it."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _classifiers(tmp_path):
    import torch

    bad = tmp_path / "clfs"
    bad.mkdir()
    (bad / "text.pt").write_text("not a tensor file\n")
    torch.save({"weights": torch.zeros(8, 3)}, bad / "dict.pt")
    torch.save(torch.zeros(8), bad / "vector.pt")
    torch.save(torch.full((8, 3), float("nan")), bad / "nan.pt")
    torch.save(torch.zeros(8, 3, dtype=torch.long), bad / "ints.pt")
    torch.save(_RunsCodeOnLoad(tmp_path / "code_ran"), bad / "code.pt")
    return bad


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("text.pt", ("not a classifier", "weights_only")),
        ("dict.pt", ("holds dict", "2-D float tensor")),
        ("vector.pt", ("1-D", "2-D float tensor")),
        ("ints.pt", ("torch.int64", "2-D float tensor")),
        ("nan.pt", ("NaN",)),
        ("code.pt", ("not a classifier", "weights_only")),
        ("missing.pt", ("does not exist",)),
    ],
)
def test_malformed_load_clfs_file(refused, tmp_path, name, needles):
    path = _classifiers(tmp_path) / name
    refused("--load_clfs", path, needles=("--load_clfs", str(path), *needles))
    assert not (tmp_path / "code_ran").exists()  # the pickled code never ran


def test_load_clfs_of_unequal_shapes(refused, tmp_path):
    import torch

    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    torch.save(torch.zeros(8, 3), a)
    torch.save(torch.zeros(8, 4), b)
    refused("--load_clfs", a, b, needles=("--load_clfs", str(b), "(8, 4)", "(8, 3)"))


def test_load_clfs_that_do_not_fit_the_model_is_one_line_and_no_result(fake_eval, tmp_path):
    """The embedding size is known only once the model runs; the mismatch is still one line and no result."""
    import torch

    clf = tmp_path / "clf.pt"
    torch.save(torch.zeros(8, 5), clf)  # the fake model has dim 8, fake_cls 3 classes
    res = fake_eval("--dataset", "fake_cls", "--load_clfs", clf)
    res.assert_one_line_error("--load_clfs", str(clf), "(8, 5)", "(8, 3)")
    assert not (tmp_path / "out").exists()


def test_saved_classifier_loads_back(fake_eval, tmp_path):
    clf = tmp_path / "clf" / "c.pt"
    fake_eval("--dataset", "fake_cls", "--save_clf", clf).assert_ok()
    fake_eval("--dataset", "fake_cls", "--load_clfs", clf).assert_ok()


def test_save_clf_below_a_regular_file(refused, tmp_path):
    blocker = tmp_path / "somefile.txt"
    blocker.write_text("x")
    refused("--save_clf", blocker / "clf.pt", needles=("--save_clf", str(blocker), "is a file, not a folder"))


def test_save_clf_that_is_a_folder(refused, tmp_path):
    refused("--save_clf", tmp_path, needles=("--save_clf", "is a folder"))


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--model_type", "nope"], ("unknown model type 'nope'",)),
        (["--dataset", "imagenet1kk"], ("unknown dataset 'imagenet1kk'", "imagenet1k")),
        (["--task", "zeroshot_clasification"], ("unknown task 'zeroshot_clasification'",)),
        (["--language", "xx"], ("unknown language 'xx'",)),
    ],
)
def test_unknown_names_stay_one_line(refused, args, needles):
    refused(*args, needles=needles)


def test_unknown_name_is_one_line_in_a_real_process(tmp_path):
    res = run_cli_subprocess("eval", "--dataset", "imagenet1kk", "--output", tmp_path / "r.json", cwd=tmp_path)
    res.assert_one_line_error("unknown dataset 'imagenet1kk'")
    assert list(tmp_path.iterdir()) == []


def test_build_output_below_a_regular_file(tmp_path):
    blocker = tmp_path / "somefile.txt"
    blocker.write_text("x")
    (tmp_path / "r.json").write_text('{"dataset": "d", "metrics": {"acc1": 1.0}}')
    res = run_cli("build", tmp_path / "r.json", "--output", blocker / "bench.csv")
    res.assert_one_line_error("--output", "is a file, not a folder")
