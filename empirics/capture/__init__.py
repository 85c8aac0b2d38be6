"""Capture: inputs (text corpus, images), their alignment across models (shared byte
boundaries, patch grids), the on-disk activation cache and the captured pair, the aligned
activation stream that the engine reads."""
