"""What a killed save leaves (temporary files of atomic writes, an arrays file record.json does
not name) is removed by the next save or load in that directory; never the current arrays,
never a file a save in progress elsewhere may still be writing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runstore import STALE_AFTER_S, RecordError, tidy
from tests.runstore.specimens import Specimen, arrays_path, header, specimen, write_header

ROOT = Path(__file__).resolve().parents[2]

# A save killed (SIGKILL: no cleanup runs) while replacing record.json: its new arrays file
# and the temporary record.json are left behind.
KILLED_SAVE = """
import os, signal, sys
from runstore import files
from tests.runstore.specimens import specimen

real_replace = os.replace
def replace(src, dst):
    if str(dst).endswith("record.json"):
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
files.os.replace = replace
specimen(sys.argv[2]).save(sys.argv[1])
"""


def _killed_save(directory: Path, label: str) -> None:
    done = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(directory), label], cwd=ROOT)
    assert done.returncode == -9


def _age(*paths: Path, seconds: float = 2 * STALE_AFTER_S) -> None:
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then))


def _leftovers(directory: Path) -> list[str]:
    current = arrays_path(directory).name
    return sorted(p.name for p in directory.iterdir() if p.name not in ("record.json", current))


def test_a_killed_save_is_tidied_by_the_next_load_once_abandoned(tmp_path):
    specimen("a").save(tmp_path)
    _killed_save(tmp_path, "b")
    left = _leftovers(tmp_path)
    assert len(left) == 2 and any(n.startswith(".record.json.") for n in left), left
    assert Specimen.load(tmp_path).label == "a"
    assert _leftovers(tmp_path) == left  # young: maybe a save in progress elsewhere
    _age(*(tmp_path / name for name in left))
    assert Specimen.load(tmp_path).label == "a"
    assert _leftovers(tmp_path) == []
    assert Specimen.load(tmp_path).label == "a"


def test_a_killed_save_is_tidied_by_the_next_save(tmp_path):
    specimen("a").save(tmp_path)
    _killed_save(tmp_path, "b")
    (temporary,) = tmp_path.glob(".record.json.*.tmp")
    specimen("c").save(tmp_path)
    assert _leftovers(tmp_path) == [temporary.name]  # other arrays go at once, temporaries age
    _age(temporary)
    specimen("d").save(tmp_path)
    assert _leftovers(tmp_path) == []
    assert Specimen.load(tmp_path).label == "d"


def test_only_the_record_files_leftovers_are_removed(tmp_path):
    specimen("a").save(tmp_path)
    current = arrays_path(tmp_path)
    others = [tmp_path / ".report.html.abcdefgh.tmp", tmp_path / "notes.tmp",
              tmp_path / ".record.json.tmp", tmp_path / "arrays.txt"]
    for path in others:
        path.write_text("x")
    _age(current, *others)
    assert tidy(tmp_path, keep=current.name) == []
    assert Specimen.load(tmp_path).label == "a"
    assert all(path.is_file() for path in [current, *others])
    np.testing.assert_array_equal(Specimen.load(tmp_path).values, specimen().values)


def test_tidy_reports_what_it_removed_and_never_fails(tmp_path):
    specimen("a").save(tmp_path)
    keep = arrays_path(tmp_path).name
    stale = tmp_path / "arrays-0123456789abcdef.safetensors"
    temporary = tmp_path / f".{keep}.a1b2c3d4.tmp"
    for path in (stale, temporary):
        path.write_bytes(b"x")
    assert tidy(tmp_path, keep=keep) == []
    _age(stale, temporary)
    assert tidy(tmp_path, keep=keep) == [stale, temporary]
    assert tidy(tmp_path / "absent", keep=keep) == []


def test_a_failed_load_removes_nothing(tmp_path):
    """A header pointing at the wrong arrays must not get the record's own arrays deleted."""
    specimen("a").save(tmp_path / "other")
    specimen("b").save(tmp_path)
    own = arrays_path(tmp_path)
    entry = header(tmp_path / "other")["arrays"]
    write_header(tmp_path, header(tmp_path) | {"arrays": entry})
    leftover = tmp_path / ".record.json.abcdefgh.tmp"
    leftover.write_text("{")
    _age(own, leftover)
    with pytest.raises(RecordError, match="is missing"):
        Specimen.load(tmp_path)
    assert own.is_file() and leftover.is_file()
