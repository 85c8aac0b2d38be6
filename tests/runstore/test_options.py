"""Settings fields declared once: their flags, their ranges and the one wording of a refusal."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from runstore.commands import command_parser
from runstore.options import (
    Bounds,
    add_flags,
    check_fields,
    flag,
    float_list,
    from_flags,
    int_list,
    range_message,
    str_list,
)


@dataclasses.dataclass(frozen=True)
class Example:
    """A settings class with every kind of field the commands declare."""

    corpus: Path = flag(help="a corpus", type=Path)
    batch: int = flag(8, "items per batch", at_least=1)
    level: float = flag(0.95, "coverage", above=0.0, below=1.0)
    correlation: float | None = flag(None, "least r", type=float, at_least=-1.0, at_most=1.0)
    widths: tuple = flag((8, 16), "widths", at_least=8)
    rules: tuple = flag(("mean",), "rules", type=str_list, choices=("mean", "max"))
    mode: str = flag("fast", "mode", choices=("fast", "slow"))
    n_items: int = flag(4, "items", name="--items", at_least=0, hint="0: none")
    report: bool = flag(False, "write a page")
    train: bool = flag(True, "skip training", name="--no-train")
    models: tuple = flag((), "a model (repeatable)", name="--model", action="append")
    device: str = flag("cpu", "device", flag_default="auto")
    computed: int = flag(3, "set by the command", cli=False)
    plain: int = 5

    def __post_init__(self):
        check_fields(self)


def parser() -> argparse.ArgumentParser:
    p = command_parser("example", "An example.")
    add_flags(p, Example)
    return p


def test_defaults_round_trip_and_flags_have_their_declared_names():
    settings = from_flags(Example, parser().parse_args(["--corpus", "c"]), computed=7)
    assert settings == Example(corpus=Path("c"), device="auto", computed=7)
    options = {s for action in parser()._actions for s in action.option_strings}
    assert {"--items", "--no-train", "--model", "--widths", "--rules"} <= options
    assert not {"--n-items", "--train", "--models", "--computed", "--plain"} & options


def test_values_are_read_as_declared():
    args = parser().parse_args(["--corpus", "c", "--widths", "8,32", "--rules", "max, mean",
                                "--items", "0", "--report", "--no-train", "--model", "a",
                                "--model", "b", "--level", "0.5"])
    settings = from_flags(Example, args)
    assert settings.widths == (8, 32) and settings.rules == ("max", "mean")
    assert settings.n_items == 0 and settings.report and not settings.train
    assert settings.models == ("a", "b") and settings.level == 0.5
    assert parser().parse_args(["--corpus", "c"]).models == []  # the default list is copied


def test_a_required_field_is_a_required_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args([])
    assert exit_info.value.code == 2 and "--corpus" in capsys.readouterr().err


@pytest.mark.parametrize("changes, message", [
    ({"batch": 0}, "--batch must be an integer >= 1, got 0"),
    ({"batch": 2.5}, "--batch must be an integer >= 1, got 2.5"),
    ({"batch": True}, "--batch must be an integer >= 1, got True"),
    ({"level": 1.0}, "--level must be a number in (0, 1), got 1.0"),
    ({"correlation": -1.5}, "--correlation must be a number in [-1, 1], got -1.5"),
    ({"widths": (8, 4)}, "each value of --widths must be an integer >= 8, got (8, 4)"),
    ({"widths": ()}, "--widths needs at least one value, got ()"),
    ({"rules": ("mean", "mode")}, ("each value of --rules must be one of mean, max, got "
                                   "('mean', 'mode')")),
    ({"mode": "quick"}, "--mode must be one of fast, slow, got 'quick'"),
    ({"n_items": -1}, "--items must be an integer >= 0 (0: none), got -1"),
])
def test_a_value_outside_its_declaration_is_refused_by_the_one_writer(changes, message):
    with pytest.raises(ValueError) as error:
        Example(corpus=Path("c"), **changes)
    assert str(error.value) == message


def test_values_on_a_closed_bound_pass_and_none_passes_where_it_is_the_default():
    Example(corpus=Path("c"), batch=1, correlation=1.0, widths=(8,), n_items=0)
    Example(corpus=Path("c"), correlation=None)


def test_the_message_writer_states_each_kind_of_range():
    assert Bounds(low=0, low_open=True).text() == "> 0"
    assert Bounds(high=5).text() == "<= 5"
    assert Bounds(low=0, high=1, high_open=True).text() == "in [0, 1)"
    assert range_message("--k", 0, bounds=Bounds(low=1, integer=True)) == \
        "--k must be an integer >= 1, got 0"


def test_a_bad_value_through_a_command_exits_2_naming_the_flag_and_range(capsys):
    p = parser()
    with pytest.raises(SystemExit) as exit_info:
        try:
            from_flags(Example, p.parse_args(["--corpus", "c", "--batch", "0"]))
        except ValueError as error:
            p.error(str(error))
    assert exit_info.value.code == 2
    assert "--batch must be an integer >= 1, got 0" in capsys.readouterr().err


def test_help_shows_defaults_as_typed_and_no_default_for_a_negated_switch():
    text = " ".join(parser().format_help().split())
    assert "widths (default: 8,16)" in text
    assert "--no-train skip training --model" in text  # no "(default: True)"
    assert "device (default: auto)" in text


@pytest.mark.parametrize("parse, text, expected", [
    (int_list, "8,16,32", (8, 16, 32)), (float_list, "1.5,2", (1.5, 2.0)),
    (str_list, "a, b,,c", ("a", "b", "c"))])
def test_list_parsers(parse, text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("parse, text", [(int_list, "8,x"), (float_list, "1.5,,2")])
def test_list_parsers_refuse_what_is_not_a_list_of_numbers(parse, text):
    with pytest.raises(argparse.ArgumentTypeError, match="separated by commas"):
        parse(text)


def test_nan_lies_in_no_range():
    from runstore.options import Bounds

    assert not Bounds(low=0.0).holds(float("nan"))
    assert not Bounds(high=1.0).holds(float("nan"))
