"""The matching engine: streaming float64 moments, blocked Pearson correlation, each neuron's
best partners, mutual top-k, checkpoints, ranks over torch.distributed and the nulls
(docs/matching.md). Sees only activation streams: imports neither models nor capture.

Callers enter by `empirics.engine.entry.match(source, EngineOptions(...))`, which picks the
block, two-stage or official engine; what the engines share is `empirics.engine.kernel`."""
