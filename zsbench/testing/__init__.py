"""Test-only helpers: the fake model and datasets, dataset replica writers in each real on-disk format, the
``../shared`` lookup, and tiny InternVL checkpoints. Importing them is light (no torch, numpy or PIL at import), and
the run path does not use them, except to build the ``builtin:internvl-tiny-hf`` weights of the CPU regression
cases (``zsbench.engine.weights``)."""
