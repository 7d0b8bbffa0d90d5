"""Dataset loaders, one small module per family. Heavy libraries are imported inside functions.

Every loader is called as ``fn(root, split=..., language=..., spec=spec, **options)`` and returns images
undecoded (an :class:`~zsbench.datasets.base.ImageSet`) plus labels or captions. Options every loader accepts:

* ``allow_incomplete=False``: a split whose size differs from ``spec.sizes`` is an error unless this is set
  (miniature replicas in tests set it; the loaded size is recorded in ``data.info["size"]``);
* ``download=False``: fetch the annotation files listed in the spec (``spec.files``) that are missing;
* ``custom_classname_file`` / ``custom_template_file`` / ``cupl``: see :mod:`zsbench.datasets.prompts`;
* ``annotation_file``: caption file override (flickr30k, mscoco_captions), as CLIP_benchmark's flag;
* ``wds_cache_dir``: accepted for CLI compatibility; local shards are read in place.

Nothing is skipped silently: a missing or undecodable file is an error naming it (the engine's
``--skip_corrupt`` is the only place that skips images, and it records what it skipped).
"""
