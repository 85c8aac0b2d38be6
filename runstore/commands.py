"""How every command speaks to its user: its help (`command_parser`: the module docstring's
first paragraph as the description, every option's default shown) and how it reports a
failure it can explain: the message and exit status 1 for
data errors (a damaged or missing record, missing weights, records that do not support the
result asked for), exit status 2 for usage errors (argparse's own), and a traceback only with
`--debug` (or for an error no command anticipates: a bug shows as one)."""

from __future__ import annotations

import argparse
import contextlib
from typing import Iterator

from runstore.header import RecordError

#: Errors that mean "the data cannot give this result", not "the program is wrong".
DATA_ERRORS: tuple[type[BaseException], ...] = (RecordError, LookupError, OSError)


def describe(doc: str) -> str:
    """A command's description: the first paragraph of its module docstring, in one line
    (argparse wraps it again)."""
    return " ".join(doc.strip().split("\n\n")[0].split())


class HelpFormatter(argparse.HelpFormatter):
    """Every command's help: each option's help followed by its default, shown as it is typed
    (paths as paths, lists comma-separated or, for several values, space-separated). Nothing
    is added where the help already states the default, nor for a default that says "not
    given" (None, False, an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        default = action.default
        if (default is None or default is False or default is argparse.SUPPRESS
                or (isinstance(default, (tuple, list, dict, str)) and not default)
                or "default" in help or not action.option_strings):
            return help
        return f"{help} (default: {shown(default, action.nargs).replace('%', '%%')})"


def shown(value, nargs=None) -> str:
    """A default as the user would type it on the command line."""
    if isinstance(value, (tuple, list)):
        sep = " " if nargs in ("+", "*") or isinstance(nargs, int) else ","
        return sep.join(shown(item) for item in value)
    if isinstance(value, dict):
        return ",".join(f"{key}={item}" for key, item in value.items())
    return str(value)


def command_parser(prog: str, doc: str, **options) -> argparse.ArgumentParser:
    """The parser of the command `prog` (`python -m ...`), described by its module docstring
    `doc` and showing every option's default."""
    return argparse.ArgumentParser(prog=prog, description=describe(doc),
                                   formatter_class=HelpFormatter, **options)


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
