"""Models: the registry of families (`ModelSpec`), loading from local files or the Hugging Face
cache, the hooks that capture MLP activations, and the unembedding for vocabulary projections.
Imports nothing else of `empirics`."""
