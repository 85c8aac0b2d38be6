"""The offline corpus: deterministic, categorised, split by file, checked on load."""

import gzip
import json

import pytest

from empirics.capture.offline import (
    MANIFEST,
    CorpusError,
    Recipe,
    _troff_text,
    build_corpus,
    chunks,
    load_corpus,
)
from empirics.corpus import main


@pytest.fixture
def sources(tmp_path):
    """A small stdlib and /usr/share of every kind of source."""
    lib, share = tmp_path / "lib", tmp_path / "share"
    for i in range(40):
        (lib / "pkg").mkdir(parents=True, exist_ok=True)
        (lib / "pkg" / f"mod{i}.py").write_text("\n".join(f"x{j} = {i * j}" for j in range(300)))
    (lib / "LICENSE.txt").write_text("Permission is hereby granted.\n" * 50)
    (lib / "data.json").write_text(json.dumps({"k": list(range(100))}))
    (lib / "site-packages").mkdir()
    (lib / "site-packages" / "other.py").write_text("not stdlib = True\n")
    (lib / "binary.py").write_bytes(b"\xff\xfe not utf-8")
    (share / "common-licenses").mkdir(parents=True)
    (share / "common-licenses" / "MIT").write_text("MIT licence text\n" * 20)
    (share / "doc" / "tool").mkdir(parents=True)
    (share / "doc" / "tool" / "README").write_text("A tool that does things.\n" * 30)
    for section in ("man1", "de/man1"):
        (share / "man" / section).mkdir(parents=True)
        page = '.TH TOOL 1\n.SH NAME\ntool \\- does \\fBthings\\fR\n.SH "SEE ALSO"\nother\n'
        (share / "man" / section / "tool.1.gz").write_bytes(gzip.compress(page.encode()))
    return Recipe(stdlib=str(lib), share=str(share), heldout_percent=20, chunk_chars=1000)


def test_the_corpus_has_every_category_and_splits_whole_files(sources, tmp_path):
    corpus = build_corpus(tmp_path / "c", sources)
    categories = {**corpus.categories("train"), **corpus.categories("heldout")}
    assert set(categories.values()) == {"code", "legal", "data", "prose", "multilingual"}
    assert not any(i.startswith(("stdlib/site-packages", "stdlib/binary")) for i in categories)
    files = {}
    for split in ("train", "heldout"):
        for document in corpus.documents(split):
            files.setdefault(document.id.rsplit("#", 1)[0], set()).add(split)
            assert len(document.text) <= sources.chunk_chars
    assert all(len(found) == 1 for found in files.values())  # no file in both splits
    held = sum("heldout" in found for found in files.values())
    assert 0 < held < len(files) and corpus.manifest["recipe"]["heldout_percent"] == 20


def test_two_builds_of_the_same_sources_agree_and_any_change_shows(sources, tmp_path):
    first = build_corpus(tmp_path / "a", sources)
    second = build_corpus(tmp_path / "b", sources)
    assert first.sha256 == second.sha256
    (tmp_path / "lib" / "pkg" / "mod3.py").write_text("changed = 1\n")
    assert build_corpus(tmp_path / "c", sources).sha256 != first.sha256


def test_a_built_corpus_is_reused_checked_and_rebuilt_on_request(sources, tmp_path):
    corpus = build_corpus(tmp_path / "c", sources)
    stamp = (tmp_path / "c" / MANIFEST).stat().st_mtime_ns
    assert build_corpus(tmp_path / "c", sources).sha256 == corpus.sha256
    assert (tmp_path / "c" / MANIFEST).stat().st_mtime_ns == stamp
    with open(tmp_path / "c" / "heldout.jsonl", "a") as handle:
        handle.write('{"id": "x", "category": "code", "text": "planted"}\n')
    with pytest.raises(CorpusError, match="damaged"):  # a data error (an OSError)
        load_corpus(tmp_path / "c").documents("heldout")
    with pytest.raises(FileNotFoundError, match="python -m empirics.corpus"):
        load_corpus(tmp_path / "none")


def test_chunks_keep_every_character_in_order():
    text = "".join(f"line {i}\n" for i in range(500)) + "x" * 2500
    pieces = chunks(text, 1000)
    assert "".join(pieces) == text and max(map(len, pieces)) <= 1000


def test_manual_pages_lose_their_markup():
    page = '.TH LS 1\n.SH NAME\nls \\- list \\fBdirectory\\fR contents\n.B \\-a\nall\n'
    assert _troff_text(page).strip().split("\n") == ["NAME", "ls - list directory contents",
                                                     "-a", "all"]


def test_the_command_prints_the_categories(sources, tmp_path, capsys):
    corpus = main(["--out", str(tmp_path / "c"), "--heldout", "20", "--chunk", "1000",
                   "--stdlib", sources.stdlib, "--share", sources.share])
    out = capsys.readouterr().out
    assert f"sha256 {corpus.sha256}" in out and "multilingual" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["--heldout", "0"])
    assert exit_info.value.code == 2
