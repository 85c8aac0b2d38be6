"""The utility-capacity allocation model (docs/theory.md): the numeric solver at any width,
the sympy derivation of frontiers and exponents, the closures of the alternatives, and the
toy superposition nets (torch) with their configuration and data (-> TheoryRun records).
Imports only the record layer (`runstore`); `python -m theory.simulate` is its command."""
