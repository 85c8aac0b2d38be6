"""Analyses of matched pairs: top-activating examples, selectivity, specialization, depth,
mutual top-k and budget stability, judges and Rosetta anchors (docs/selectivity.md)."""
