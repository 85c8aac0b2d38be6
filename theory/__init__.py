"""The utility-capacity allocation model (docs/theory.md): the numeric solver at any width,
the sympy derivation of frontiers and exponents and the closures of the alternatives
(-> TheoryRun records; torch-free), and in `theory.toy` the toy superposition nets (torch).
Imports only the record layer (`runstore`); `python -m theory.simulate` is its command."""
