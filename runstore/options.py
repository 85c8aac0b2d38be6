"""Settings dataclasses as command-line flags, each field declared once.

A settings field is `flag(default, help, ...)`: its help, its flag's name (`--field-name`
unless `name=` says otherwise), how the flag's text is read (from the default's type unless
`type=` says), its choices and its range (`at_least`, `above`, `at_most`, `below`; for a
tuple, each of its values). `add_flags` turns a dataclass's fields into argparse flags and
`from_flags` reads them back; `check_fields` (called by each settings class's
`__post_init__`) refuses a value outside its declared range or choices with the message of
`range_message`, the one writer of those messages, so a command's usage error (exit 2) and a
library caller's `ValueError` say the same thing and name the flag. The list parsers
(`int_list`, `float_list`, `str_list`) read comma-separated values. Torch-free.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
MISSING = dataclasses.MISSING


def int_list(text: str) -> tuple[int, ...]:
    """'8,16,32' -> (8, 16, 32), for argparse."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}")


def float_list(text: str) -> tuple[float, ...]:
    """'1.5,2,3' -> (1.5, 2.0, 3.0), for argparse."""
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}")


def str_list(text: str) -> tuple[str, ...]:
    """'a, b,,c' -> ('a', 'b', 'c'): comma-separated names, blanks dropped."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


LIST_TYPES = (int_list, float_list, str_list)


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The range a number (or each number of a tuple) must lie in; `integer` asks for ints."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def holds(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return False  # not a number, or NaN
        if self.integer and not isinstance(value, int):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def text(self) -> str:
        """'>= 1', '> 0', '<= 5' or 'in (0, 1]'."""
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{self.low:g}, "
                    f"{self.high:g}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"{'<' if self.high_open else '<='} {self.high:g}"


def range_message(flag_name: str, value, *, bounds: Bounds | None = None,
                  choices=None, each: bool = False, hint: str | None = None) -> str:
    """The one wording of every range and choice message: '--batch must be an integer >= 1,
    got 0', '--level must be a number in (0, 1), got 1.5', '--rule must be one of mean, max,
    share, got 'mode'', 'each value of --ks must be ...' for a tuple (or '--ks needs at least
    one value, got ()'); a `hint` follows the rule in parentheses."""
    aside = f" ({hint})" if hint else ""
    if each and not value:
        return f"{flag_name} needs at least one value{aside}, got {value!r}"
    subject = f"each value of {flag_name}" if each else flag_name
    if choices is not None:
        rule = f"one of {', '.join(map(str, choices))}"
    else:
        rule = f"{'an integer' if bounds.integer else 'a number'} {bounds.text()}"
    return f"{subject} must be {rule}{aside}, got {value!r}"


def flag(default: Any = MISSING, help: str = "", *, name: str | None = None,
         at_least: float | None = None, above: float | None = None,
         at_most: float | None = None, below: float | None = None,
         integer: bool | None = None, choices=None, hint: str | None = None, type=None,
         cli: bool = True, optional: bool | None = None,
         default_factory=MISSING, flag_default: Any = MISSING, **argparse_options) -> Any:
    """A settings field with its command-line flag and constraints.

    Parameters
    ----------
    default, default_factory
        The field's default (none: the flag is required).
    help
        The flag's help; its default is added by `runstore.commands.HelpFormatter`.
    name
        The flag, when it is not `--field-name` (e.g. "--neurons" for `n_neurons`;
        "--no-debian" for a switch that turns a True default off); a name without leading
        dashes makes a positional argument.
    at_least, above, at_most, below
        The range of the value (of each value of a tuple); `integer` (inferred from the
        default or `type`) asks for integers.
    choices
        The allowed values (checked for the field as for the flag).
    hint
        Said after the range in the message of a value outside it.
    type
        How the flag's text is read (inferred from the default: int, float, Path, a
        comma-separated list for a tuple of numbers or names).
    cli
        False: a setting no flag sets (the command computes it, or it keeps its default).
    optional
        Whether None ("not given") passes the range and choices; by default, where the
        default is None.
    flag_default
        The flag's default where it differs from the field's (e.g. "auto" for a device the
        command resolves, where library callers default to "cpu").
    **argparse_options
        Passed to `add_argument` as they are (`nargs`, `metavar`, `action`...).
    """
    sample = default if default is not MISSING else None
    if type is None:
        type = _inferred_type(sample)
    if integer is None:
        integer = type in (int, int_list)
    low, low_open = (above, True) if above is not None else (at_least, False)
    high, high_open = (below, True) if below is not None else (at_most, False)
    bounds = (Bounds(low, high, low_open, high_open, integer)
              if low is not None or high is not None else None)
    metadata = {"help": help, "name": name, "bounds": bounds, "cli": cli,
                "choices": tuple(choices) if choices is not None else None, "hint": hint,
                "type": type, "optional": default is None if optional is None else optional,
                "flag_default": flag_default, "argparse": argparse_options}
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata=metadata)


def _inferred_type(default):
    if isinstance(default, bool) or default is None:
        return None
    if isinstance(default, Path):
        return Path
    if isinstance(default, (int, float)):
        return type(default)
    if isinstance(default, tuple) and default:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in default):
            return int_list
        if all(isinstance(v, (int, float)) for v in default):
            return float_list
        if all(isinstance(v, str) for v in default):
            return str_list
    return None


def flag_name(field: dataclasses.Field) -> str:
    """The flag of a settings field as the user types it ('--batch', '--neurons')."""
    name = field.metadata.get("name") if field.metadata else None
    return name or "--" + field.name.replace("_", "-")


def setting_name(field: dataclasses.Field) -> str:
    """How a message names a settings field: its flag, or for a setting no flag sets
    (`cli=False`, no `name=`) the field's own name."""
    meta = field.metadata or {}
    return flag_name(field) if meta.get("cli", True) or meta.get("name") else field.name


def check_fields(settings) -> None:
    """Refuse, as `ValueError` naming the flag (`setting_name`), a field outside its declared
    range or choices (None passes where the field is `optional`: "not given")."""
    for field in dataclasses.fields(settings):
        meta = field.metadata
        if not meta or (meta.get("bounds") is None and meta.get("choices") is None):
            continue
        value = getattr(settings, field.name)
        if value is None and meta.get("optional", field.default is None):
            continue
        each = isinstance(value, (tuple, list))
        values = value if each else (value,)
        bad = not values or any(
            (meta["choices"] is not None and v not in meta["choices"])
            or (meta["bounds"] is not None and not meta["bounds"].holds(v)) for v in values)
        if bad:
            raise ValueError(range_message(setting_name(field), value, bounds=meta["bounds"],
                                           choices=meta["choices"], each=each,
                                           hint=meta.get("hint")))


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type) -> None:
    """One flag per field of the dataclass `cls` declared by `flag` (booleans are switches)."""
    for field in dataclasses.fields(cls):
        meta = field.metadata
        if "help" not in meta or not meta.get("cli", True):
            continue
        name = flag_name(field)
        options = {"help": meta["help"], **meta.get("argparse", {})}
        if meta.get("choices") is not None and meta.get("type") not in LIST_TYPES:
            options["choices"] = meta["choices"]  # a list's values: `check_fields` checks
        positional = not name.startswith("-")
        if not positional:
            options["dest"] = field.name

        default = (meta["flag_default"] if meta.get("flag_default", MISSING) is not MISSING
                   else field.default)
        if isinstance(default, bool) and "action" not in options:
            # a switch turns the default over; a True default's switch is "--no-..."
            options["action"] = "store_false" if default else "store_true"
            options["default"] = argparse.SUPPRESS if default else False
        else:
            if meta.get("name") and not positional:  # a renamed flag's metavar
                options.setdefault("metavar", name.lstrip("-").replace("-", "_").upper())
            if meta.get("type") is not None:
                options["type"] = meta["type"]
            if default is MISSING and field.default_factory is MISSING and not positional:
                options["required"] = True
            elif options.get("action") == "append" and isinstance(default, tuple):
                options["default"] = list(default)  # argparse appends to a copy of a list
            elif default is not MISSING:
                options["default"] = default
            elif field.default_factory is not MISSING:
                options["default"] = field.default_factory()
        parser.add_argument(name, **options)


def flag_values(cls: type, args: argparse.Namespace) -> dict:
    """The values of `cls`'s fields that `add_flags` defined, as parsed (lists as tuples;
    a switch not given keeps the field's default)."""
    values = {}
    for field in dataclasses.fields(cls):
        if "help" not in field.metadata or not field.metadata.get("cli", True):
            continue
        value = getattr(args, field.name, field.default)
        values[field.name] = tuple(value) if isinstance(value, list) else value
    return values


def from_flags(cls: type[T], args: argparse.Namespace, **others) -> T:
    """The dataclass `cls` from the parsed flags that `add_flags` defined, with `others`
    (fields no flag sets, or values the command derived) as given."""
    return cls(**(flag_values(cls, args) | others))
