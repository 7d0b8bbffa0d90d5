"""Everything one ``zsbench eval`` invocation needs, as one dataclass (the CLI and the API both build it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zsbench.errors import ZsbenchError
from zsbench.models.tiny import TINY_MODEL_NAME, tiny_weights_path
from zsbench.tasks.base import ProbeSettings

DEFAULT_OUTPUT = "{dataset}_{pretrained}_{model}_{language}_{task}.json"
DEFAULT_DATASETS = ["shapes", "shapes_captions"]
# How an image set's files are fingerprinted for the cache key: "stat" (names, sizes, mtimes, resolved root; fast)
# or "content" (the files' bytes; reads every image, catches a copy with equal names, sizes and mtimes).
FINGERPRINT_MODES = ("stat", "content")


@dataclass
class EvalConfig:
    """Settings of a run. Defaults follow CLIP_benchmark except the embedded default model and datasets.

    ``dataset_root=None`` means CLIP_benchmark's ``root`` for real datasets and zsbench's data cache for the
    built-in procedural ones, so the embedded default writes nothing into the working directory but results.
    """

    model_type: str = "open_clip"
    models: list[tuple[str, str]] = field(default_factory=lambda: [(TINY_MODEL_NAME, str(tiny_weights_path()))])
    datasets: list[tuple[str, str | None]] = field(default_factory=lambda: [(d, None) for d in DEFAULT_DATASETS])
    dataset_root: str | None = None
    split: str = "test"
    languages: list[str] = field(default_factory=lambda: ["en"])
    task: str = "auto"
    batch_size: int = 64
    num_workers: int = 4
    # The InternVL fork's default (a superset of upstream's [5]), so the README's commands give all six keys.
    recall_k: list[int] = field(default_factory=lambda: [1, 5, 10])
    precision: str = "auto"
    device: str | None = None
    output: str = DEFAULT_OUTPUT
    skip_existing: bool = False
    cache_dir: str | None = None  # None: default cache dir; "" disables the disk cache
    fingerprint: str = "stat"  # one of FINGERPRINT_MODES
    seed: int = 0
    skip_corrupt: bool = False
    download: bool = False
    dump_classnames: bool = False
    dump_templates: bool = False
    save_clf: str | None = None
    load_clfs: list[str] = field(default_factory=list)
    verbose: bool = True
    progress: bool = True
    write_results: bool = True
    model_cache_dir: str | None = None
    compile: bool = False  # torch.compile the image tower (pays off on large GPU runs)
    gpu_decode: bool = False  # decode JPEGs on the GPU (see engine/gpu_decode.py)
    model_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    # --task linear_probe (CLIP_benchmark's flags and defaults). The split flags take one value for every dataset
    # or one per dataset, in --dataset order, as CLIP_benchmark's.
    train_split: list[str] = field(default_factory=lambda: ["train"])
    val_split: list[str] | None = None
    val_proportion: list[float] | None = None
    fewshot_k: int = -1
    fewshot_epochs: int = 10
    fewshot_lr: float = 0.1
    fewshot_seeds: list[int] | None = None  # several few-shot draws in one run (mean and std reported)
    normalize: bool = True


def probe_settings(config: EvalConfig, dataset: str) -> ProbeSettings:
    """The linear-probe settings of ``dataset``'s jobs; a split flag with a wrong number of values is one line.

    ``--train_split``, ``--val_split`` and ``--val_proportion`` take one value (for every dataset) or one per
    dataset in ``--dataset`` order, as CLIP_benchmark's.
    """
    names = list(dict.fromkeys(d for d, _ in config.datasets)) or [dataset]
    index = names.index(dataset) if dataset in names else 0

    def pick(flag: str, values: Any) -> Any:
        if values is None:
            return None
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if len(values) == 1:
            return values[0]
        if len(values) != len(names):
            raise ZsbenchError(
                f"{flag} has {len(values)} values for {len(names)} datasets; give one value for all of them or one "
                "per dataset, in --dataset order"
            )
        return values[index]

    seeds = config.fewshot_seeds
    return ProbeSettings(
        train_split=pick("--train_split", config.train_split),
        val_split=pick("--val_split", config.val_split),
        val_proportion=pick("--val_proportion", config.val_proportion),
        fewshot_k=config.fewshot_k,
        fewshot_epochs=config.fewshot_epochs,
        fewshot_lr=config.fewshot_lr,
        fewshot_seeds=tuple(seeds) if seeds is not None else None,
        seed=config.seed,
        normalize=config.normalize,
    )
