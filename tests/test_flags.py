"""The commands whose flags are generated from their settings dataclasses
(`runstore.options`): no flag written by hand, every flag a declared field, and every declared
range refused on the command line with exit status 2 and the message of the one writer."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
from pathlib import Path

import pytest

from runstore.options import flag_name, range_message

ROOT = Path(__file__).resolve().parents[1]

#: command -> (the arguments its required flags need, its settings classes as module:name).
GENERATED = {
    "empirics.analyze": ([], ["empirics.pipeline.analyze:AnalyzeSettings",
                              "empirics.analyze:Sources"]),
    "empirics.corpus": ([], ["empirics.corpus:Build", "empirics.capture.offline:Recipe"]),
    "empirics.train": (["--corpus", "absent"], ["empirics.pipeline.train:TrainSettings"]),
    "empirics.importance": (["--corpus", "absent", "--model-dir", "absent"],
                            ["empirics.pipeline.importance:ImportanceSettings"]),
    "empirics.filter": (["--match", "absent", "--corpus", "absent"],
                        ["empirics.pipeline.filtering:FilterSettings", "empirics.filter:Study",
                         "empirics.pipeline.continued:ContinueSettings"]),
    "empirics.anchors": (["--family", "toy"], ["empirics.pipeline.anchors:AnchorSettings"]),
    "empirics.sweep": (["--family", "language"],
                       ["empirics.pipeline.sweep:SweepPlan", "empirics.pipeline.sweep:SlurmOptions",
                        "empirics.pipeline.options:Destination",
                        "empirics.pipeline.options:InputChoice",
                        "empirics.pipeline.options:MatchOptions",
                        "empirics.pipeline.options:Placement"]),
    "empirics.export": ([], ["empirics.export:ExportSettings"]),
    "empirics.report.__main__": (["absent"], ["empirics.report.__main__:ReportSettings"]),
    "paper_figs.__main__": ([], ["paper_figs.figure:Folders"]),
    "theory.simulate": ([], ["theory.simulate:SimulateSettings", "theory.toy.flags:ModelFlags",
                             "theory.toy.flags:ToyFlags", "theory.toy.flags:RunFlags",
                             "theory.toy.config:ToyConfig"]),
    "empirics.toy.__main__": ([], ["empirics.toy.__main__:ToyRun", "theory.toy.flags:ModelFlags",
                                   "theory.toy.flags:ToyFlags", "theory.toy.flags:RunFlags",
                                   "theory.toy.config:ToyConfig"]),
    "bridge.compare": (["--family", "language"], ["bridge.settings:CompareSettings",
                                                  "bridge.compare:CompareFlags"]),
    "empirics.toy_study": ([], ["empirics.toy_study:StudyRun", "empirics.toy.study:StudyDesign",
                                "theory.toy.flags:RunFlags"]),
}
#: Flags every command shares, declared in runstore.commands.
COMMON = {"help", "debug"}


def settings_classes(command: str) -> list[type]:
    found = []
    for name in GENERATED[command][1]:
        module, _, cls = name.partition(":")
        found.append(getattr(importlib.import_module(module), cls))
    return found


def hand_written_flags(path: Path) -> list[int]:
    """Lines of `path` that call add_argument."""
    tree = ast.parse(path.read_text())
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "add_argument"]


@pytest.mark.parametrize("command", sorted(GENERATED))
def test_no_flag_is_written_by_hand(command):
    modules = {importlib.import_module(command)} | {
        inspect.getmodule(cls) for cls in settings_classes(command)}
    for module in modules:
        path = Path(module.__file__)
        lines = hand_written_flags(path)
        assert not lines, f"{path.relative_to(ROOT)} calls add_argument at lines {lines}"


@pytest.mark.parametrize("command", sorted(GENERATED))
def test_every_flag_is_a_declared_settings_field(command):
    declared = {field.name: field for cls in settings_classes(command)
                for field in dataclasses.fields(cls)
                if "help" in field.metadata and field.metadata.get("cli", True)}
    parser = importlib.import_module(command).build_parser()
    for action in parser._actions:
        if action.dest in COMMON:
            continue
        assert action.dest in declared, f"{command}: {action.dest} is not a declared field"
        assert action.help == declared[action.dest].metadata["help"]


def outside(bounds) -> str:
    """A value just outside `bounds`, as typed on the command line."""
    if bounds.low is not None:
        value = bounds.low if bounds.low_open else bounds.low - (1 if bounds.integer else 0.5)
    else:
        value = bounds.high if bounds.high_open else bounds.high + (1 if bounds.integer else 0.5)
    return str(int(value)) if bounds.integer else repr(float(value))


def ranged_flags():
    for command in sorted(GENERATED):
        for cls in settings_classes(command):
            for field in dataclasses.fields(cls):
                meta = field.metadata
                if meta.get("bounds") is not None and meta.get("cli", True):
                    yield pytest.param(command, cls, field.name,
                                       id=f"{command}-{flag_name(field)}")


@pytest.mark.parametrize("command, cls, name", list(ranged_flags()))
def test_a_value_outside_a_declared_range_exits_2_with_the_writers_message(
        command, cls, name, capsys):
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    meta, text = field.metadata, outside(field.metadata["bounds"])
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(command).main([*GENERATED[command][0], flag_name(field), text])
    assert exit_info.value.code == 2
    value = meta["type"](text)
    expected = range_message(flag_name(field), value, bounds=meta["bounds"],
                             each=isinstance(value, tuple), hint=meta["hint"])
    assert expected in " ".join(capsys.readouterr().err.split())
