"""The offline corpus: deterministic, categorised, split by file, checked on load."""

import gzip
import json
import platform

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


def test_a_missing_source_folder_is_refused_and_nothing_is_built(sources, tmp_path, capsys):
    for flag in ("--stdlib", "--share"):
        paths = {"--stdlib": sources.stdlib, "--share": sources.share,
                 flag: str(tmp_path / "missing")}
        with pytest.raises(SystemExit) as exit_info:
            main(["--out", str(tmp_path / "c"), *[v for kv in paths.items() for v in kv]])
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert f"{flag} {tmp_path / 'missing'} is not a folder; nothing was built" in err
        assert not (tmp_path / "c").exists()


def test_the_manifest_records_what_the_build_depends_on(sources, tmp_path):
    from pydoc_data.topics import topics

    manifest = build_corpus(tmp_path / "c", sources).manifest
    assert manifest["environment"]["python"] == platform.python_version()
    assert manifest["environment"]["stdlib"] == sources.stdlib
    files = {name: tally["files"] for name, tally in manifest["sources"].items()}
    # 40 modules, the licence and the JSON file (not site-packages, not the non-UTF-8 file)
    assert files == {"stdlib": 42, "pydoc": len(topics), "licenses": 1, "doc": 1, "man": 2}


def test_check_compares_the_build_with_another_manifest(sources, tmp_path, capsys):
    flags = ["--heldout", "20", "--chunk", "1000", "--stdlib", sources.stdlib, "--share",
             sources.share]
    first = main(["--out", str(tmp_path / "a"), *flags])
    reference = tmp_path / "a" / MANIFEST
    main(["--out", str(tmp_path / "b"), *flags, "--check", str(reference)])
    assert f"the build matches {reference} (sha256 {first.sha256})" in capsys.readouterr().out
    (tmp_path / "lib" / "pkg" / "mod3.py").write_text("changed = 1\n")  # another machine's
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "c"), *flags, "--check", str(reference)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert f"this build differs from {reference}" in err and f"{first.sha256} expected" in err
    assert "source stdlib: 42 files here, 42 expected, their contents differ" in err
    assert "source man" not in err and "python:" not in err  # what agrees is not listed
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "d"), *flags, "--check", str(tmp_path / "none.json")])
    assert exit_info.value.code == 1 and "--check" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_a_manifest_saved_before_the_environment_says_so_when_checked(sources, tmp_path):
    from empirics.capture.corpus_origin import differences

    built = build_corpus(tmp_path / "c", sources).manifest
    older = {k: v for k, v in built.items() if k not in ("environment", "sources")}
    assert differences(built, older) == []  # the same corpus: nothing to say
    lines = differences(built, older | {"sha256": "0" * 64})
    assert lines[0] == f"corpus sha256 {built['sha256']} here, {'0' * 64} expected"
    assert any("the expected manifest does not record its environment" in x for x in lines)
