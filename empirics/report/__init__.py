"""The neuron browser: one self-contained HTML page per run, from records only
(docs/report.md). `python -m empirics.report RUN_DIR`."""
