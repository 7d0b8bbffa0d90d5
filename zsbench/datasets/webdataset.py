"""``wds/<name>`` datasets: spec, reader and exporter (implemented in :mod:`zsbench.datasets.loaders.webdataset`)."""

from zsbench.datasets.loaders.webdataset import export_wds, load_wds, wds_spec

__all__ = ["export_wds", "load_wds", "wds_spec"]
