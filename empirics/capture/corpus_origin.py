"""What an offline corpus build depends on, and how two builds differ.

The corpus of `empirics.capture.offline` is read from the machine it is built on: the
standard library and the interpreter's help topics change with the Python version, the
READMEs, manual pages and licence texts under /usr/share with the installed packages. Two
machines build the same corpus only when these agree. A manifest therefore records the
build's environment (`environment`) and, per source, how many files were read and a digest of
their ids and texts (`SourceTally`), so that `differences` can say why two builds differ.
"""

from __future__ import annotations

import hashlib
import platform


def environment(stdlib: str) -> dict:
    """The interpreter and operating system of a build (JSON-ready)."""
    try:
        system = platform.freedesktop_os_release().get("PRETTY_NAME")
    except OSError:
        system = None
    return {"python": platform.python_version(),
            "implementation": platform.python_implementation(), "stdlib": stdlib,
            "os": system or platform.platform()}


def source_of(file_id: str) -> str:
    """The source a file id comes from: its first path part (stdlib, pydoc, licenses, doc,
    man)."""
    return file_id.split("/", 1)[0]


class SourceTally:
    """Files read per source and a sha256 of their ids and texts, in the order read."""

    def __init__(self):
        self._files: dict[str, int] = {}
        self._digests: dict = {}

    def add(self, file_id: str, text: str) -> None:
        source = source_of(file_id)
        self._files[source] = self._files.get(source, 0) + 1
        digest = self._digests.setdefault(source, hashlib.sha256())
        digest.update(f"{file_id}\0{hashlib.sha256(text.encode()).hexdigest()}\n".encode())

    def to_manifest(self) -> dict:
        return {source: {"files": count, "sha256": self._digests[source].hexdigest()}
                for source, count in sorted(self._files.items())}


def differences(built: dict, expected: dict) -> list[str]:
    """Lines stating how the manifest `built` differs from `expected` (empty when the two
    corpora are the same): the splits' documents and digests, then the environment and the
    sources that explain a difference (where `expected` recorded them)."""
    if built.get("sha256") == expected.get("sha256"):
        return []
    lines = [f"corpus sha256 {built.get('sha256')} here, {expected.get('sha256')} expected"]
    for split, info in built.get("splits", {}).items():
        other = expected.get("splits", {}).get(split, {})
        if info.get("sha256") != other.get("sha256"):
            lines.append(f"  {split}: {info.get('documents')} documents here, "
                         f"{other.get('documents')} expected")
    for name, manifest in (("this build's", built), ("the expected", expected)):
        if "environment" not in manifest or "sources" not in manifest:
            lines.append(f"  {name} manifest does not record its environment and sources "
                         "(built before they were recorded; rebuild with --force)")
    for name, value in built.get("environment", {}).items():
        wanted = expected.get("environment", {}).get(name, value)
        if value != wanted:
            lines.append(f"  {name}: {value} here, {wanted} expected")
    sources = built.get("sources", {})
    wanted_sources = expected.get("sources", sources)
    for source in sorted(set(sources) | set(wanted_sources)):
        here, there = sources.get(source, {}), wanted_sources.get(source, {})
        if here.get("sha256") != there.get("sha256"):
            lines.append(f"  source {source}: {here.get('files', 0)} files here, "
                         f"{there.get('files', 0)} expected, their contents differ")
    return lines
