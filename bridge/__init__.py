"""Power-law fits with honest intervals for theory and data, and their comparison
(-> Comparison records). Reads records only; needs no torch. `python -m bridge.compare`."""
