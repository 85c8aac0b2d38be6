"""The empirics stage's records, torch-free: a match (`match`), the toy sweep (`toy`), the
per-chunk sums and the recounts they allow (`chunks`), examples, analyses and anchors, and
the neurons' (layer, unit) <-> global index conversion (`neurons`)."""
