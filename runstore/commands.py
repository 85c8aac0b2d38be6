"""How every command reports a failure it can explain: the message and exit status 1 for
data errors (a damaged or missing record, missing weights, records that do not support the
result asked for), exit status 2 for usage errors (argparse's own), and a traceback only with
`--debug` (or for an error no command anticipates: a bug shows as one)."""

from __future__ import annotations

import argparse
import contextlib
from typing import Iterator

from runstore.record import RecordError

#: Errors that mean "the data cannot give this result", not "the program is wrong".
DATA_ERRORS: tuple[type[BaseException], ...] = (RecordError, LookupError, OSError)


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of a failure instead of its message")


@contextlib.contextmanager
def reported(parser: argparse.ArgumentParser, *, debug: bool = False,
             data: tuple[type[BaseException], ...] = DATA_ERRORS) -> Iterator[None]:
    """Turn the data errors raised inside into `prog: error: message` and exit status 1."""
    try:
        yield
    except data as error:
        if debug:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        parser.exit(1, f"{parser.prog}: error: {message}\n")
