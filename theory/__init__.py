"""The utility-capacity allocation model: numeric solver, sympy derivation and (later) toy
superposition nets (-> TheoryRun records). The record base and runtime helpers live here too,
as the bottom layer every other stage may import."""
