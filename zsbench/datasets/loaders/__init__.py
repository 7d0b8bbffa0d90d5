"""Dataset loaders, one small module per family. Heavy libraries are imported inside functions.

Every loader is called as ``fn(root, split=..., language=..., spec=spec, **options)`` and returns images
undecoded (an :class:`~zsbench.datasets.base.ImageSet`) plus labels or captions. Options every loader accepts:

* ``allow_incomplete=False``: a split whose size differs from ``spec.sizes`` is an error unless this is set
  (miniature replicas in tests set it; the loaded size is recorded in ``data.info["size"]``). Class-folder
  datasets label by folder NAME (``spec.class_folders``), so a missing class folder shifts no label; the
  missing classes are recorded in ``data.info["absent_classes"]``, and a webdataset shard cut short in
  ``data.info["incomplete_shards"]``;
* ``download=False``: fetch the annotation files listed in the spec (``spec.files``) that are missing;
* ``custom_classname_file`` / ``custom_template_file`` / ``cupl``: see :mod:`zsbench.datasets.prompts`;
* ``annotation_file``: caption file override (flickr30k, mscoco_captions), as CLIP_benchmark's flag;
* ``wds_cache_dir``: where ``wds/`` shards from the HF hub are kept (:mod:`zsbench.datasets.hub`); local shards
  are read in place.

Nothing is skipped silently: a missing or undecodable file is an error naming it (the engine's
``--skip_corrupt`` is the only place that skips images, and it records what it skipped).

No code from data: CIFAR pickles go through a restricted unpickler (numpy arrays and builtin containers only),
``.npy`` targets are read with ``allow_pickle=False``, tar members are read in place by byte range (never
extracted), and the ``.mat`` files of Stanford Cars and the ImageNet devkit are read with ``scipy.io.loadmat``,
which parses MATLAB data and runs no code. Nothing under ``zsbench/datasets`` calls ``eval``/``exec`` or
``yaml.load``.
"""
