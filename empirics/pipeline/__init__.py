"""Pipelines: one function per command that loads, captures, matches or analyses and saves
the records (the CLI shells parse arguments and call them); the match families as adapters
(`pairs.MATCH_FAMILIES`, `families`, `generated`)."""
