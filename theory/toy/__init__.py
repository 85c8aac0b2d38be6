"""The toy superposition nets (docs/theory.md, section 7), in one room: `config` (ToyConfig,
the arms' rent; torch-free), `data` (sparse features, seeded streams), `model` (the nets,
their forward pass, losses and readouts), `training` (every instance at once with Adam),
`internals` (the theory's assumptions read in a net), `plot` (the sweep's and the study's
figures) and `flags` (the command-line flags of a toy sweep).

The nets are measured by the matching engine one stage up, in the toy family's adapter
(`empirics.toy`); nothing here imports `empirics`.
"""
