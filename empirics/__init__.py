"""Measurement: MLP activations of model families, input alignment, streaming Pearson
correlation, mutual nearest neighbours, nulls and selectivity (-> MatchRecord records).

Subpackages (docs/design.md): `models` (registry, loading, hooks), `capture` (inputs,
alignment, the aligned activation stream), `engine` (the matching engine), `records`
(torch-free records), `analysis`, `report` (the neuron browser) and `pipeline` (one function
per command); the modules at this level are the commands."""
