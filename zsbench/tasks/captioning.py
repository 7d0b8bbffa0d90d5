"""Image captioning, scored as CLIP_benchmark 1.6.2 does (``metrics/captioning.py``): a generative model (open_clip
CoCa) captions every image, and pycocoevalcap scores the captions against the dataset's references.

The engine generates the captions (``Task.image_output = "captions"``: ``model.generate`` per batch, through the
same loader, cache and ``--skip_corrupt`` handling as embeddings) and hands them to :class:`Captioning` decoded.
Scoring, as upstream's ``COCOEvalCap``: image ids 0..N-1 in dataset order, references and hypotheses each
tokenized by pycocoevalcap's Stanford PTB tokenizer (lower-cased, punctuation tokens removed), then BLEU-1..4,
METEOR, ROUGE_L and CIDEr(-D) over the whole set, under CLIP_benchmark's keys.

- The PTB tokenizer and METEOR are Java programs shipped in pycocoevalcap, so the task needs ``java``; without it
  nothing is comparable and the task is refused in one line before the model loads. The tokenizer is run here
  with pycocoevalcap's own jar and arguments (its wrapper writes a temporary file into the installed package and
  never checks that Java succeeded: a failed run would score empty captions), its output checked line by line.
- METEOR that cannot run (its Java process fails) is ``null`` with the reason in ``metrics_unavailable``, and one
  warning line; SPICE is always ``null`` with its reason: it needs Stanford CoreNLP models that pycocoevalcap
  downloads (hundreds of MB from nlp.stanford.edu) on first use, and zsbench does not download behind your back.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from zsbench.errors import ZsbenchError
from zsbench.tasks.base import EVAL_IMAGES, IMAGE_CAPTIONS, ImageEmbeddings, Task, TaskSettings, TextEmbeddings

__all__ = [
    "CAPTIONING_METRICS",
    "SPICE_UNAVAILABLE",
    "TASK",
    "Captioning",
    "ptb_tokenize",
    "require_java",
    "require_pycocoevalcap",
    "score_captions",
    "score_tokenized",
]

log = logging.getLogger("zsbench")

# CLIP_benchmark's result keys, in its scorers' order.
CAPTIONING_METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "SPICE")
SPICE_UNAVAILABLE = (
    "not computed: SPICE needs the Stanford CoreNLP 3.6.0 models, which pycocoevalcap downloads from "
    "nlp.stanford.edu on first use; zsbench runs offline and does not download them"
)
# Java's PTBTokenizer ends a line at each of these (not only at \n): a caption holding one would shift every later
# caption onto another image's line, so they become spaces first (pycocoevalcap replaces only \n).
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
PTB_TIMEOUT_S = 600


def require_pycocoevalcap() -> Any:
    """The ``pycocoevalcap`` package, or one line saying how to install it."""
    try:
        import pycocoevalcap
        from pycocoevalcap.tokenizer import ptbtokenizer  # noqa: F401  (the scorers import nothing else)
    except ImportError as e:
        raise ZsbenchError(
            f"--task captioning scores with pycocoevalcap, which cannot be imported ({e}): "
            "pip install pycocoevalcap (or pip install 'zsbench[captioning]')"
        ) from e
    return pycocoevalcap


def require_java() -> str:
    """The path of ``java``, or one line: pycocoevalcap's tokenizer and METEOR are Java programs."""
    java = shutil.which("java")
    if java is None:
        raise ZsbenchError(
            "--task captioning needs Java (no 'java' on PATH): pycocoevalcap tokenizes every caption with the "
            "Stanford PTB tokenizer and scores METEOR, both Java programs, and without them no score is comparable "
            "with CLIP_benchmark's; install a Java runtime (e.g. apt-get install default-jre-headless)"
        )
    return java


def ptb_tokenize(captions: Mapping[int, Sequence[str]]) -> dict[int, list[str]]:
    """pycocoevalcap's ``PTBTokenizer().tokenize`` on ``{image id: [caption, ...]}`` (plain strings).

    The same jar, arguments and punctuation filter; the sentences go through a private temporary folder instead of
    the installed package, and Java's exit status and line count are checked, so a failed run is one line instead
    of empty captions that score as zero.
    """
    require_pycocoevalcap()
    from pycocoevalcap.tokenizer import ptbtokenizer as ptb

    java = require_java()
    jar = os.path.join(os.path.dirname(os.path.abspath(ptb.__file__)), ptb.STANFORD_CORENLP_3_4_1_JAR)
    if not os.path.isfile(jar):
        raise ZsbenchError(f"pycocoevalcap's tokenizer jar {jar} is missing: reinstall pycocoevalcap")
    owners = [k for k, caps in captions.items() for _ in caps]
    sentences = [_LINE_BREAKS.sub(" ", c) for caps in captions.values() for c in caps]
    with tempfile.TemporaryDirectory(prefix="zsbench-ptb-") as folder:
        path = os.path.join(folder, "captions.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(sentences))
        cmd = [java, "-cp", jar, "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase", path]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=PTB_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ZsbenchError(f"pycocoevalcap's PTB tokenizer (Java) could not run: {e}") from e
    lines = proc.stdout.decode("utf-8", "replace").split("\n")
    if len(lines) == len(sentences) + 1 and not lines[-1]:
        lines.pop()  # a final newline
    # One output line per caption, or the captions would land on other images' lines.
    if proc.returncode != 0 or len(lines) != len(sentences):
        detail = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no error output"])[-1]
        raise ZsbenchError(
            f"pycocoevalcap's PTB tokenizer (Java) failed (exit {proc.returncode}, {len(lines)} lines for "
            f"{len(sentences)} captions): {detail}"
        )
    out: dict[int, list[str]] = {k: [] for k in captions}
    for owner, line in zip(owners, lines):
        out[owner].append(" ".join(w for w in line.rstrip().split(" ") if w not in ptb.PUNCTUATIONS))
    return out


def _meteor(references: dict[int, list[str]], hypotheses: dict[int, list[str]]) -> float:
    """pycocoevalcap's METEOR (a Java process) over the whole set."""
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = Meteor()
    try:
        score, _ = scorer.compute_score(references, hypotheses)
    finally:
        del scorer  # its __del__ ends the Java process
    return float(score)


def score_tokenized(
    references: dict[int, list[str]], hypotheses: dict[int, list[str]], *, meteor: bool = True
) -> tuple[dict[str, float | None], dict[str, str]]:
    """CLIP_benchmark's metrics over already tokenized captions: ``(metrics, unavailable)``.

    ``metrics`` has every key of :data:`CAPTIONING_METRICS`; a metric that could not be computed is ``None`` and
    ``unavailable`` says why (SPICE always; METEOR when ``meteor`` is False or its Java process fails).
    """
    require_pycocoevalcap()
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    metrics: dict[str, float | None] = {}
    unavailable: dict[str, str] = {}
    with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its length statistics
        bleu, _ = Bleu(4).compute_score(references, hypotheses)
    metrics.update({f"Bleu_{n}": float(b) for n, b in enumerate(bleu, start=1)})
    metrics["METEOR"] = None
    if meteor:
        try:
            metrics["METEOR"] = _meteor(references, hypotheses)
        except (OSError, ValueError, AssertionError, RuntimeError) as e:
            unavailable["METEOR"] = f"pycocoevalcap's METEOR (Java) failed: {type(e).__name__}: {e}".strip()
    else:
        unavailable["METEOR"] = "not computed (meteor=False)"
    metrics["ROUGE_L"] = float(Rouge().compute_score(references, hypotheses)[0])
    metrics["CIDEr"] = float(Cider().compute_score(references, hypotheses)[0])
    metrics["SPICE"] = None
    unavailable["SPICE"] = SPICE_UNAVAILABLE
    return {k: metrics[k] for k in CAPTIONING_METRICS}, unavailable


def score_captions(
    references: Sequence[Sequence[str]], hypotheses: Sequence[str], *, meteor: bool = True
) -> tuple[dict[str, float | None], dict[str, str]]:
    """CLIP_benchmark's captioning metrics: ``hypotheses[i]`` is the caption generated for image ``i``, scored
    against ``references[i]`` (one or more captions). Returns ``(metrics, unavailable)`` as :func:`score_tokenized`.

    Raises ``ValueError`` for inputs pycocoevalcap cannot score (no images, lengths that differ, an image without
    references).
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} generated captions for {len(references)} images")
    if not hypotheses:
        raise ValueError("captioning needs at least one image")
    empty = [i for i, refs in enumerate(references) if not refs]
    if empty:
        raise ValueError(f"{len(empty)} image(s) without reference captions (first: image {empty[0]})")
    # Two tokenizer runs, as upstream: the tokenizer's quote state may carry from one line to the next.
    refs = ptb_tokenize({i: list(r) for i, r in enumerate(references)})
    hyps = ptb_tokenize({i: [h] for i, h in enumerate(hypotheses)})
    return score_tokenized(refs, hyps, meteor=meteor)


def _digest(texts: Sequence[str]) -> str:
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


class Captioning(Task):
    """CLIP_benchmark's ``captioning``: generate a caption per image, score it against the image's captions.

    Runs on caption datasets (``mscoco_captions``, ``flickr30k``, ``flickr8k``, ...) when asked explicitly
    (``--task captioning``); ``--task auto`` keeps retrieval for them, as upstream. Settings used: none (the
    generation settings are the model's, recorded by the engine).
    """

    name = "captioning"
    data_kinds = ("zeroshot_retrieval",)  # datasets whose images have reference captions
    image_output = IMAGE_CAPTIONS
    # CLIP_benchmark scores captions against the references as written (the fork's pre_caption is for retrieval)
    dataset_defaults = MappingProxyType({"caption_preprocess": "none"})

    def check_settings(self, settings: TaskSettings) -> None:
        require_pycocoevalcap()
        require_java()

    def check_data(self, data: Any, settings: TaskSettings) -> None:
        captions = getattr(data, "captions", None)
        if captions is None:
            raise ZsbenchError("--task captioning needs a dataset with reference captions for its images")
        empty = [i for i, caps in enumerate(captions) if not caps]
        if empty:
            root = data.info.get("root", "") if isinstance(getattr(data, "info", None), dict) else ""
            raise ZsbenchError(
                f"{len(empty)} of {len(captions)} images of {root or 'the dataset'} have no reference caption (first: "
                f"image {empty[0]}, {data.images.image_key(empty[0])}); captioning scores need at least one per image"
            )

    def score(
        self,
        images: Mapping[str, ImageEmbeddings],
        texts: TextEmbeddings | None,
        data: Any,
        settings: TaskSettings,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        evaluated = images[EVAL_IMAGES]
        if evaluated.captions is None:
            raise ValueError("captioning needs the generated captions (the engine gave embeddings)")
        generated = list(evaluated.captions)
        references = [list(r) for r in evaluated.take(data.captions)]
        metrics, unavailable = score_captions(references, generated)
        for metric, reason in unavailable.items():
            if metric != "SPICE":  # SPICE is never computed (documented); anything else is news
                log.warning("zsbench: warning: %s unavailable: %s", metric, reason)
        info: dict[str, Any] = {
            "n_references": sum(len(r) for r in references),
            "references_sha256": _digest([c for r in references for c in r]),
            "generated_sha256": _digest(generated),
            "generated_examples": generated[:3],
            "caption_preprocess": data.info.get("caption_preprocess"),
            "metrics_unavailable": unavailable,
            "scorer": _scorer_versions(),
        }
        return metrics, info


def _scorer_versions() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        pycocoevalcap = version("pycocoevalcap")
    except PackageNotFoundError:
        pycocoevalcap = "unknown"
    return {"pycocoevalcap": pycocoevalcap, "java": shutil.which("java")}


TASK = Captioning()
