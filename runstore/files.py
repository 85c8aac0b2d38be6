"""Atomic writes: a file is written under a temporary name in its directory, synced, and
renamed over the target, so a crash leaves the old file or the new one, never half of one.

A process killed between creating the temporary file and the rename leaves it behind as
``.<name>.<8 random characters>.tmp``; `temporaries` finds such files and `remove_stale`
removes those that nothing has written to for a while (a younger one may belong to a write
in progress in another process).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("runstore")

STALE_AFTER_S = 600.0
"""Seconds after its last modification from which a leftover file counts as abandoned.

A write in progress modifies its temporary file continually, and the rename follows the
last write within seconds (the fsync); ten minutes leave a wide margin, also for clock skew
between the hosts of a shared file system."""

# mkstemp names: prefix, 8 characters of tempfile's alphabet, suffix
_RANDOM_PART = r"\.[a-z0-9_]{8}\.tmp"


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would (umask applied)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode())


def temporaries(directory: str | Path, target: str) -> list[Path]:
    """The temporary files `atomic_write_bytes` left in `directory` for targets whose name
    matches the regular expression `target`.

    Parameters
    ----------
    directory : str or Path
        The directory the targets live in (not searched recursively).
    target : str
        A regular expression the whole target name must match, e.g. ``r"record\\.json"``.

    Returns
    -------
    list of Path
        The temporary files, sorted by name (none when `directory` cannot be listed).
    """
    pattern = re.compile(rf"\.(?:{target}){_RANDOM_PART}")
    try:
        names = sorted(entry.name for entry in os.scandir(directory) if entry.is_file())
    except OSError:
        return []
    return [Path(directory) / name for name in names if pattern.fullmatch(name)]


def remove_stale(paths: Iterable[Path], older_than: float = STALE_AFTER_S) -> list[Path]:
    """Remove those of `paths` last modified more than `older_than` seconds ago.

    Parameters
    ----------
    paths : iterable of Path
        Candidate leftovers.
    older_than : float
        Minimum age in seconds (0 removes every candidate).

    Returns
    -------
    list of Path
        The files removed. A file that is gone already or cannot be removed (a read-only
        directory) is passed over: tidying up never fails the caller.
    """
    removed = []
    now = time.time()
    for path in paths:
        try:
            if older_than > 0 and now - path.stat().st_mtime <= older_than:
                continue
            path.unlink()
        except OSError as error:
            log.debug("could not remove the leftover %s: %s", path, error)
            continue
        removed.append(path)
    return removed
