"""Measurement: MLP activations of model families, input alignment, streaming Pearson
correlation, mutual nearest neighbours, nulls and selectivity (-> MatchRecord records)."""
