"""Models: the registry of families (`ModelSpec`), the architectures and loaders as adapters
(`adapters`: one module and one registry line each), loading from local files or the Hugging
Face cache, the hooks that capture MLP activations, and the unembedding for vocabulary
projections. Imports nothing else of `empirics`."""
