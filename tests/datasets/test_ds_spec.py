"""One frozen ``DatasetSpec`` type for every dataset, checked when it is created."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from zsbench.datasets import DatasetSpec, RemoteFile, get_spec, list_datasets
from zsbench.datasets.base import CLASSIFICATION, RETRIEVAL
from zsbench.errors import ZsbenchError

LOADER = "zsbench.testing.fake:load_fake_classification"
SHA = "ab" * 32


def _spec(**kw) -> DatasetSpec:
    args = {"name": "probe", "task": CLASSIFICATION, "loader": LOADER} | kw
    return DatasetSpec(**args)


def test_every_registered_dataset_is_one_spec_type():
    """Catalog entries, wds/ names and the shapes datasets are all plain DatasetSpec: nothing to probe for."""
    names = [*list_datasets(), "wds/vtab/cifar10", "wds/flickr30k"]
    assert {type(get_spec(n)) for n in names} == {DatasetSpec}
    flickr = get_spec("flickr30k")
    assert {f.name for f in flickr.files} == {"flickr30k_test_karpathy.txt", "flickr30k_cn_test.txt"}
    assert flickr.required == ("flickr30k_test_karpathy.txt|flickr30k_cn_test.txt",)  # images: root/Images or root
    assert get_spec("wds/flickr30k").files == () and get_spec("wds/flickr30k").required == ()
    assert get_spec("shapes").required == ("shapes/test",)


@pytest.mark.parametrize(
    "module", ["zsbench.datasets.loaders._spec", "zsbench.datasets.webdataset", "zsbench.datasets.shapes"]
)
def test_old_module_paths_are_gone(module):
    """No shims: one import path per name (zsbench.datasets.base, .loaders.webdataset, .loaders.shapes)."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(module)


def test_spec_is_frozen_and_normalised():
    sizes = {"test": 3}
    spec = _spec(splits=["test", "train"], languages=["en"], sizes=sizes, class_folders=["a", "b"])
    assert spec.splits == ("test", "train") and spec.languages == ("en",) and spec.class_folders == ("a", "b")
    sizes["test"] = 99  # the registry's copy does not follow the caller's dict
    assert spec.sizes == {"test": 3}
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.task = RETRIEVAL  # type: ignore[misc]
    # dataclasses.replace builds a new spec, so it is checked too
    with pytest.raises(ZsbenchError, match="sizes"):
        dataclasses.replace(get_spec("cifar10"), sizes={"test": 0})


def test_positional_fields_keep_their_order():
    """zsbench.testing.fake and user code register specs positionally: name, task, loader first."""
    spec = DatasetSpec("probe", RETRIEVAL, LOADER, ("test",), ("en", "cn"), {"test": 2, "test/captions": 10})
    assert (spec.task, spec.languages, spec.sizes["test/captions"]) == (RETRIEVAL, ("en", "cn"), 10)


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"task": "zeroshot_captioning"}, "unknown task 'zeroshot_captioning'"),
        ({"task": "classification"}, "unknown task"),
        ({"name": ""}, "name"),
        ({"name": " cifar10"}, "name"),
        ({"loader": "zsbench.testing.fake.load_fake_classification"}, "loader"),
        ({"loader": ":load"}, "loader"),
        ({"splits": ()}, "splits must not be empty"),
        ({"splits": "test"}, "splits must be a tuple"),
        ({"splits": ("test", "test")}, "lists 'test' twice"),
        ({"splits": ("test", "")}, "splits holds ''"),
        ({"languages": ()}, "languages must not be empty"),
        ({"sizes": {"test": 0}}, "positive int"),
        ({"sizes": {"test": -5}}, "positive int"),
        ({"sizes": {"test": 2.5}}, "positive int"),
        ({"sizes": {"test": True}}, "positive int"),
        ({"sizes": {"test": "500"}}, "positive int"),
        ({"sizes": {"val": 10}}, "sizes key 'val'"),
        ({"sizes": {"test@fr": 10}}, "sizes key 'test@fr'"),
        ({"sizes": {"test/images": 10}}, "sizes key 'test/images'"),
        ({"sizes": {"test/captions": 10}}, "caption counts apply to zeroshot_retrieval only"),
        ({"sizes": [("test", 10)]}, "sizes must be a dict"),
        ({"multilabel": 1}, "multilabel must be True or False"),
        ({"builtin": "yes"}, "builtin must be True or False"),
        ({"layout": None}, "layout must be a string"),
        ({"task": RETRIEVAL, "multilabel": True}, "multilabel and class_folders apply to zeroshot_classification"),
        ({"task": RETRIEVAL, "class_folders": ("a",)}, "class_folders apply to zeroshot_classification"),
        ({"required": ("../outside",)}, "'../outside' is not a relative path"),
        ({"required": ("Images|/abs",)}, "'/abs' is not a relative path"),
        ({"required": "Images"}, "required must be a tuple"),
        ({"files": (RemoteFile("a.txt", "https://x/a.txt"), RemoteFile("a.txt", "https://x/b.txt"))}, "'a.txt' twice"),
        ({"files": (RemoteFile("a.txt", "https://x/a.txt", "", ("cn",)),)}, "for language 'cn'"),
        ({"files": ("a.txt",)}, "not a RemoteFile"),
    ],
)
def test_bad_spec_is_one_line_naming_the_field(kw, needle):
    with pytest.raises(ZsbenchError, match="probe" if "name" not in kw else "name") as info:
        _spec(**kw)
    message = str(info.value)
    assert needle in message and "\n" not in message


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("../a.txt", "https://x/a"), "not a relative path"),
        (("/etc/passwd", "https://x/a"), "not a relative path"),
        (("", "https://x/a"), "non-empty"),
        (("a.txt", "ftp://x/a"), "not an http(s) URL"),
        (("a.txt", "x/a"), "not an http(s) URL"),
        (("a.txt", "https://x/a", "abc"), "not 64 hex digits"),
        (("a.txt", "https://x/a", "zz" * 32), "not 64 hex digits"),
        (("a.txt", "https://x/a", "", "en"), "languages must be a tuple"),
    ],
)
def test_bad_remote_file_is_one_line(args, needle):
    with pytest.raises(ZsbenchError) as info:
        RemoteFile(*args)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_good_remote_file_and_spec():
    rf = RemoteFile("ann/a.txt", "https://x/a.txt", SHA.upper(), ["cn"])
    assert rf.languages == ("cn",)
    spec = _spec(
        task=RETRIEVAL,
        languages=("en", "cn"),
        sizes={"test": 2, "test/captions": 10, "test@cn": 1, "test@cn/captions": 5},
        files=[rf],
        required=("Images", "a.txt|b.txt"),
    )
    assert spec.files == (rf,) and spec.required == ("Images", "a.txt|b.txt")
