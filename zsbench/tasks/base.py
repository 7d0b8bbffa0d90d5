"""The task protocol: what a task asks the engine for, and how it turns embeddings into metrics.

A task never sees a model, a cache or a file. The engine asks it which image sets it needs
(:meth:`Task.image_sets`), encodes them through its embedding cache (so a classification job and any other task on
the same images share one encoding), asks it which texts to encode (:meth:`Task.texts`), encodes those, and calls
:meth:`Task.score`. Adding a task is one file: subclass :class:`Task`, set ``name`` and ``data_kinds``, implement
``score`` (and ``texts`` if it needs text embeddings), and ``TASKS.register(task.name, task)``.

This module imports no torch (``import zsbench.tasks`` stays light); tensors are only passed through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from zsbench._registry import Registry
from zsbench.errors import ZsbenchError

if TYPE_CHECKING:
    from torch import Tensor

# The role of the job's own split in ``Task.image_sets``: the images the metrics are about. A task that needs more
# image sets (a linear probe: the train split too) names each by its split ("train"); the engine keys their cache
# entries by that name, so any job that encodes the same split shares them.
EVAL_IMAGES = "eval"

# What the engine computes for each image of a task's image sets (``Task.image_output``): embeddings
# (``model.encode_image``), or generated captions (``model.generate_captions``: token ids, decoded by the model).
IMAGE_EMBEDDINGS = "embeddings"
IMAGE_CAPTIONS = "captions"


@dataclass(frozen=True)
class ProbeSettings:
    """The linear probe's settings (CLIP_benchmark's flags and defaults; ``--task linear_probe`` reads them).

    Attributes:
        train_split: the split the head is trained on (``--train_split``).
        val_split: a split to sweep the weight decay on (``--val_split``); exclusive with ``val_proportion``.
        val_proportion: the share of the train split held out for the sweep (``--val_proportion``).
        fewshot_k: training samples per class; -1 (default): all of them.
        fewshot_epochs, fewshot_lr: training epochs and AdamW's peak learning rate (cosine schedule, no warmup).
        fewshot_seeds: several few-shot draws in one run (mean and standard deviation reported); ``None``: one
            draw with ``seed``.
        seed: seeds the head's initialisation and batch order, the ``val_proportion`` split, and the draw when
            ``fewshot_seeds`` is not given (``--seed``).
        normalize: L2-normalise the features first (``--normalize``; default True).
    """

    train_split: str = "train"
    val_split: str | None = None
    val_proportion: float | None = None
    fewshot_k: int = -1
    fewshot_epochs: int = 10
    fewshot_lr: float = 0.1
    fewshot_seeds: tuple[int, ...] | None = None
    seed: int = 0
    normalize: bool = True


@dataclass(frozen=True)
class TaskSettings:
    """Per-job settings the engine hands to a task; a task reads only the ones it uses, nothing is global.

    Attributes:
        batch_size: the evaluation batch size; classification multiplies its classifier one such batch at a time,
            as CLIP_benchmark does (the same bits at near-ties).
        recall_k: the job's recall@k values (``--recall_k``, or the case's own in the regression suite).
        classifier: an already loaded (D, C) zero-shot classifier (``--load_clfs``, averaged); then no prompt is
            encoded.
        classifier_source: where ``classifier`` came from, for error messages (``"--load_clfs a.pt, b.pt"``).
        save_classifier: where to put the classifier a task builds (``--save_clf``); the engine writes it
            atomically and turns an OS error into one line.
        probe: the linear probe's settings.
        other_splits: the loaded data of the other splits the task asked for (:meth:`Task.splits`), by role;
            filled in by the engine.
    """

    batch_size: int | None = None
    recall_k: tuple[int, ...] = (1, 5, 10)
    classifier: Tensor | None = None
    classifier_source: str = ""
    save_classifier: Callable[[Tensor], None] | None = None
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    other_splits: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageEmbeddings:
    """One image set's embeddings, as the engine produced (or found in its cache).

    ``embeddings`` has one row per image that was evaluated, in image order; ``skipped`` are the indices of corrupt
    images left out under ``--skip_corrupt`` (empty otherwise). For a task whose ``image_output`` is
    :data:`IMAGE_CAPTIONS`, ``embeddings`` holds the generated token ids and ``captions`` the model's decoded caption
    of each row.
    """

    embeddings: Tensor
    n_images: int
    skipped: tuple[int, ...] = ()
    cache: str = "miss"  # "miss", "memory" or "disk": where the embeddings came from
    captions: tuple[str, ...] | None = None

    @property
    def kept(self) -> list[int] | None:
        """Indices of the images behind the rows; ``None`` when every image was evaluated."""
        if not self.skipped:
            return None
        skipped = set(self.skipped)
        return [i for i in range(self.n_images) if i not in skipped]

    def take(self, values: Any) -> Any:
        """``values`` (one entry per image: a list, an array or a tensor) restricted to the evaluated images."""
        kept = self.kept
        if kept is None:
            return values
        return [values[i] for i in kept] if isinstance(values, list) else values[kept]


@dataclass(frozen=True)
class Texts:
    """The texts a task wants encoded, in encoding order, and what each belongs to (a class, an image ...)."""

    texts: list[str]
    owner: list[int]

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.owner):
            raise ValueError(f"{len(self.texts)} texts but {len(self.owner)} owners")


@dataclass(frozen=True)
class TextEmbeddings:
    """The embeddings of a task's :class:`Texts`, row ``i`` for ``texts.texts[i]``."""

    texts: Texts
    embeddings: Tensor
    cache: str = "miss"


class Task:
    """A benchmark task over embeddings. Subclasses set ``name`` and ``data_kinds`` and implement :meth:`score`.

    ``data_kinds`` are the kinds of dataset data the task can score: the ``task`` attribute of what a dataset
    loader returns (``zeroshot_classification`` for classnames, templates and labels; ``zeroshot_retrieval`` for
    captions). ``--task auto`` picks a dataset's own task; an explicit ``--task`` must accept the dataset's kind.

    ``image_output`` is what the engine computes per image: :data:`IMAGE_EMBEDDINGS` (default) or
    :data:`IMAGE_CAPTIONS` (a generative model's captions; the engine refuses a model that cannot generate, before
    its model loads where the architecture tells, else before any image is encoded).

    ``dataset_defaults`` are dataset loader options the task sets unless the user does (captioning scores against
    the references as written: ``caption_preprocess="none"``, CLIP_benchmark's).
    """

    name: str = ""
    data_kinds: tuple[str, ...] = ()
    image_output: str = IMAGE_EMBEDDINGS
    dataset_defaults: Mapping[str, Any] = MappingProxyType({})

    def image_sets(self, data: Any) -> dict[str, Any]:
        """The image sets to encode, by role. Default: the job's split (:data:`EVAL_IMAGES`)."""
        return {EVAL_IMAGES: data.images}

    def splits(self, settings: TaskSettings) -> dict[str, str]:
        """Other splits of the job's dataset the task needs, role -> split name (default: none).

        The engine checks each against the dataset's splits before anything loads (a missing one is one line that
        names ``--<role>_split``), loads it before the model loads, encodes its images through the cache under the
        split's name (so any job on the same split shares them), and hands the task the data in
        ``settings.other_splits[role]`` and the embeddings in ``images[role]``.
        """
        return {}

    def check_settings(self, settings: TaskSettings) -> None:
        """Raise :class:`zsbench.errors.ZsbenchError` (one line) for settings this task cannot use; called before
        any dataset or model loads."""

    def check_data(self, data: Any, settings: TaskSettings) -> None:
        """Raise :class:`zsbench.errors.ZsbenchError` for data this task cannot score (e.g. too few training
        samples per class, an image without captions); called with ``settings.other_splits`` filled in (empty for a
        task without other splits), after the datasets load and before the model loads."""

    def texts(self, data: Any, images: Mapping[str, ImageEmbeddings], settings: TaskSettings) -> Texts | None:
        """The texts to encode (after the images, so skipped images can be left out); ``None``: none."""
        return None

    def score(
        self,
        images: Mapping[str, ImageEmbeddings],
        texts: TextEmbeddings | None,
        data: Any,
        settings: TaskSettings,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(metrics, info)``: the metrics go to the result's ``metrics``, ``info`` into its provenance.

        Raise ``ValueError`` for inputs the metric cannot score (the engine names the dataset in one line) and
        :class:`zsbench.errors.ZsbenchError` for a bad setting.
        """
        raise NotImplementedError

    def recorded_settings(self, settings: TaskSettings) -> dict[str, Any]:
        """The settings that shape this task's numbers, for the provenance (e.g. retrieval's ``recall_k``)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class TaskRegistry(Registry[Task]):
    """``--task`` name -> :class:`Task`, plus the names zsbench knows but refuses (CLIP_benchmark tasks not built yet).

    A refused name is one line naming the supported tasks, never silently ignored; registering a task under such a
    name makes it supported.
    """

    def __init__(self) -> None:
        super().__init__("task")
        self._refused: list[str] = []

    def refuse(self, *names: str) -> None:
        """Mark names as known but not supported (yet)."""
        self._refused.extend(n for n in names if n not in self._refused)

    def unsupported(self) -> list[str]:
        """Known task names that are refused, in registration order."""
        return [n for n in self._refused if n not in self]

    def canonical(self, name: str) -> str:
        if name in self._refused and name not in self:
            raise ZsbenchError(f"task {name!r} is not supported by zsbench; supported: {', '.join(self.names())}")
        return super().canonical(name)

    def register(self, name: str, obj: Task | str | None = None, *, aliases: tuple[str, ...] = ()) -> Any:
        task_name = getattr(obj, "name", name) if obj is not None and not isinstance(obj, str) else name
        if task_name != name:
            raise ValueError(f"task {task_name!r} registered under another name, {name!r}")
        return super().register(name, obj, aliases=aliases)

    def unregister(self, name: str) -> None:
        """Remove a task and its aliases (plugins and tests that register one for a while)."""
        key = self.canonical(name)
        del self._entries[key]
        for alias in [a for a, target in self._aliases.items() if target == key]:
            del self._aliases[alias]

    def accepting(self, data_kind: str) -> list[str]:
        """Names of the tasks that can score data of this kind (imports their modules)."""
        return [n for n in self.names() if data_kind in self.get(n).data_kinds]


def check_accepts(task: Task, data_kind: str, what: str) -> None:
    """Raise one line unless ``task`` scores data of ``data_kind`` (``what`` names the dataset)."""
    if data_kind not in task.data_kinds:
        raise ZsbenchError(f"{what} gives {data_kind} data but task {task.name!r} scores {', '.join(task.data_kinds)}")


__all__ = [
    "EVAL_IMAGES",
    "IMAGE_CAPTIONS",
    "IMAGE_EMBEDDINGS",
    "ImageEmbeddings",
    "ProbeSettings",
    "Task",
    "TaskRegistry",
    "TaskSettings",
    "TextEmbeddings",
    "Texts",
    "check_accepts",
]
