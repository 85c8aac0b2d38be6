"""Every command's --help: a whole description, a help text for every option, its defaults."""

from __future__ import annotations

import argparse
import importlib
import re

import pytest

from tests.test_layers import COMMANDS


def parser_of(command: str) -> argparse.ArgumentParser:
    return importlib.import_module(command).build_parser()


def option_blocks(parser: argparse.ArgumentParser) -> dict[str, str]:
    """The help text of each option (first option string -> its lines, in one line)."""
    text = parser.format_help()
    blocks = re.split(r"\n  (?=-)", text)[1:]
    return {block.split()[0].rstrip(","): " ".join(block.split()) for block in blocks}


def not_given(default) -> bool:
    return default in (None, False, argparse.SUPPRESS) or (
        isinstance(default, (tuple, list, dict, str)) and not default)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_has_help_and_shows_its_default(command):
    parser = parser_of(command)
    blocks = option_blocks(parser)
    for action in parser._actions:
        name = action.option_strings[0] if action.option_strings else action.dest
        assert action.help and action.help.strip(), f"{command} {name} has no help"
        if not action.option_strings or not_given(action.default):
            continue
        assert "default" in blocks[name], f"{command} {name}: no default in {blocks[name]!r}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_description_is_whole_sentences(command):
    description = parser_of(command).description
    assert description and description.rstrip().endswith((".", "?", ")")), description
    assert "\n" not in description


def test_defaults_are_shown_as_typed():
    help_text = " ".join(parser_of("empirics.match").format_help().split())
    assert "root of run directories (default: runs)" in help_text
    assert "(default: float32)" in help_text
    toy = " ".join(parser_of("empirics.toy.__main__").format_help().split())
    assert "comma-separated hidden widths (default: 8,16,32" in toy


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_usage_error_exits_2(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser_of(command).parse_args(["--no-such-flag"])
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
