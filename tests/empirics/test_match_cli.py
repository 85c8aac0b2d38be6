"""python -m empirics.match: one pair end to end on tiny models saved in the test."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from empirics.capture.stimuli import default_corpus
from empirics.match import main
from empirics.models.detect import resolve_spec
from empirics.models.registry import get_spec
from empirics.pipeline.match import match_pair
from empirics.pipeline.options import MatchOptions
from empirics.records.examples import ExamplesRecord
from empirics.records.guarantee import certified_down_to, guarantee_text, is_exact
from empirics.records.match import MatchRecord
from empirics.records.toy import ToySweep
from tests.empirics.tiny_models import save_text_model, train_tokenizers

OPTIONS = MatchOptions(batch=4, tokens=128, candidates=2, groups=4, examples=3)


@pytest.fixture(scope="module")
def saved_pair(tmp_path_factory):
    bpe, unigram = train_tokenizers()
    root = tmp_path_factory.mktemp("cli-models")
    spec_a = save_text_model(root / "a", "gpt_neox", bpe, seed=1)
    spec_b = save_text_model(root / "b", "opt", unigram, seed=2)
    return root, spec_a, spec_b


def test_a_pair_writes_a_record_and_is_reused(saved_pair, tmp_path):
    root, spec_a, _ = saved_pair
    docs = default_corpus()[:8]
    kwargs = dict(family="language", inputs=docs, options=OPTIONS, out=tmp_path,
                  device=torch.device("cpu"), paths=(root / "a", root / "a"))
    directory = match_pair(spec_a, spec_a, **kwargs)
    record = MatchRecord.load(directory)
    live = record.n_neurons_a - record.dead_a
    assert record.n_rosetta == live > 0 and np.allclose(record.pairs["r"], 1.0, atol=1e-5)
    assert np.array_equal(record.pairs["unit_a"], record.pairs["unit_b"])
    # 8 documents in batches of 4: 2 batches, so 2 of the 4 chunk groups would stay empty
    assert record.config["capture"]["kind"] == "text" and record.chunks["tokens"].shape == (2,)
    examples = ExamplesRecord.load(directory / "examples")
    assert examples.values_a.shape == (record.n_neurons_a, 3) and examples.texts[0] == docs[0].text
    assert np.array_equal(examples.samples_a, examples.samples_b)
    assert examples.samples_a.max() < len(examples.sample_table["input"])
    stamp = (directory / "record.json").stat().st_mtime_ns
    assert match_pair(spec_a, spec_a, **kwargs) == directory
    assert (directory / "record.json").stat().st_mtime_ns == stamp


def test_force_recomputes_whatever_the_free_memory_and_leaves_no_stale_state(
        saved_pair, tmp_path, monkeypatch):
    import empirics.engine.kernel as kernel

    root, spec_a, spec_b = saved_pair
    kwargs = dict(family="language", inputs=default_corpus()[:8], options=OPTIONS,
                  out=tmp_path, device=torch.device("cpu"), paths=(root / "a", root / "b"))
    monkeypatch.setattr(kernel, "available_memory", lambda device: 4 * 1075393 * 32 * 128.0)
    directory = match_pair(spec_a, spec_b, **kwargs)
    first = MatchRecord.load(directory)
    assert not (directory / "state").exists()  # the record holds the result
    monkeypatch.setattr(kernel, "available_memory", lambda device: 4 * 1075147 * 32 * 128.0)
    (directory / "state").mkdir()  # a state left by an older run must not be reused either
    (directory / "state" / "record.json").write_text("{}")
    assert match_pair(spec_a, spec_b, force=True, **kwargs) == directory
    again = MatchRecord.load(directory)
    assert again.n_rosetta == first.n_rosetta and not (directory / "state").exists()
    for name in first.pairs:
        np.testing.assert_array_equal(again.pairs[name], first.pairs[name])


def test_the_run_is_keyed_by_what_is_loaded_and_records_its_measured_size(saved_pair,
                                                                           tmp_path):
    root, _, spec_b = saved_pair
    bpe, _ = train_tokenizers()
    local = tmp_path / "model"
    save_text_model(local, "gpt_neox", bpe, seed=1)
    spec_a = resolve_spec("my-neox", local)  # a name outside the registry: read from its config
    kwargs = dict(family="language", inputs=default_corpus()[:8], options=OPTIONS,
                  out=tmp_path / "runs", device=torch.device("cpu"), paths=(local, root / "b"))
    first = match_pair(spec_a, spec_b, **kwargs)
    record = MatchRecord.load(first)
    assert record.size_a == spec_a.n_params > 0  # what was loaded, not a registry figure
    assert record.config["weights"][0]["files"]["model.safetensors"]
    save_text_model(local, "gpt_neox", bpe, seed=7)  # new weights at the same path
    second = match_pair(spec_a, spec_b, **kwargs)
    assert second != first and MatchRecord.load(second).n_rosetta >= 0
    documents = default_corpus()[:8]
    changed = [documents[0].__class__(documents[0].id, documents[0].text + " changed"),
               *documents[1:]]
    third = match_pair(spec_a, spec_b, **(kwargs | {"inputs": changed}))
    assert third not in (first, second)  # same ids, other text: another run


def test_a_checkpoint_that_is_not_the_named_model_is_refused_naming_both(saved_pair, tmp_path,
                                                                         capsys):
    root, _, _ = saved_pair
    bpe, _ = train_tokenizers()
    save_text_model(tmp_path / "qwen", "qwen2", bpe)
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "language", "--pair", "pythia-70m", "tiny-opt", "--path-a",
              str(tmp_path / "qwen"), "--path-b", str(root / "b"), "--device", "cpu",
              "--docs", "4", "--out", str(tmp_path / "runs")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "pythia-70m is a gpt_neox model" in err and "holds a qwen2 model" in err


def test_permuted_null_and_random_init_are_labelled(saved_pair, tmp_path):
    root, spec_a, spec_b = saved_pair
    docs = default_corpus()[:8]
    common = dict(family="language", inputs=docs, out=tmp_path, device=torch.device("cpu"),
                  paths=(root / "a", root / "b"))
    permuted = MatchRecord.load(match_pair(
        spec_a, spec_b,
        options=dataclasses.replace(OPTIONS, null="permuted", cache_activations=True), **common))
    assert list((tmp_path / "match").glob("*/activations/manifest.json"))
    untrained = MatchRecord.load(
        match_pair(spec_a, spec_b, options=dataclasses.replace(OPTIONS, init="random"), **common))
    assert (permuted.null, untrained.null) == ("permuted", "untrained")
    assert permuted.config != untrained.config


def test_missing_weights_exit_with_the_way_to_supply_them(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "language", "--pair", "pythia-70m", "opt-125m", "--device", "cpu",
              "--cache-dir", str(tmp_path / "empty-cache"), "--out", str(tmp_path)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "1 pair(s) not matched" in err and "pythia-70m x opt-125m: model pythia-70m" in err
    assert "hf download EleutherAI/pythia-70m" in err and str(tmp_path / "empty-cache") in err
    # both models of the pair at once, so that one round of downloads supplies the pair
    assert "model opt-125m (facebook/opt-125m) is not available offline" in err
    assert "hf download facebook/opt-125m" in err
    assert not list(tmp_path.glob("match/*"))


def test_all_matches_every_pair_it_can_then_lists_the_missing_ones(saved_pair, tmp_path,
                                                                   capsys):
    root, _, _ = saved_pair
    family = tmp_path / "family"  # a family of python -m empirics.train, one model unfinished
    for name, saved in (("gpt_neox-w32-s0", "a"), ("opt-w32-s0", "b"), ("gpt_neox-w32-s1", "a")):
        shutil.copytree(root / saved, family / name)
    (family / "opt-w32-s0" / "model.safetensors").unlink()
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "language", "--model-dir", str(family), "--all", "--device", "cpu",
              "--docs", "4", "--tokens", "64", "--batch", "2", "--groups", "0", "--examples",
              "0", "--out", str(tmp_path / "runs"), "--json"])
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    summary = json.loads(out)
    (missing,) = summary["missing"]  # the first pair: the run went on past it
    assert (missing["model_a"], missing["model_b"]) == ("gpt_neox-w32-s0", "opt-w32-s0")
    assert "missing weights (*.safetensors or *.bin)" in missing["missing"]
    assert "no Hugging Face repository" in missing["missing"]
    assert "1 pair(s) not matched" in err and "gpt_neox-w32-s0 x opt-w32-s0: model " in err
    (row,) = summary["pairs"]
    record = MatchRecord.load(row["record"])
    assert (row["model_a"], row["model_b"]) == ("gpt_neox-w32-s0", "gpt_neox-w32-s1")
    assert row["n_rosetta"] == record.n_rosetta == record.n_neurons_a - record.dead_a > 0
    assert row["median_r"] == pytest.approx(1.0, abs=1e-5) and row["seconds"] > 0
    assert row["rosetta_fraction"] == pytest.approx(record.rosetta_fraction)
    assert row["n_tokens"] == record.n_tokens and row["null"] == "none"
    guarantee = record.config["guarantee"]
    assert row["exact"] == is_exact(guarantee) and row["guarantee"] == guarantee_text(guarantee)
    assert row["certified_down_to"] == certified_down_to(guarantee)
    assert row["uncertified_a"] == guarantee["uncertified_a"]


def test_a_run_ends_with_a_table_of_its_pairs(saved_pair, tmp_path, capsys):
    root, _, _ = saved_pair
    directory, = main(["--family", "language", "--pair", "tiny-neox", "tiny-opt", "--path-a",
                       str(root / "a"), "--path-b", str(root / "b"), "--device", "cpu",
                       "--docs", "4", "--tokens", "64", "--batch", "2", "--groups", "0",
                       "--examples", "0", "--out", str(tmp_path / "runs")])
    record = MatchRecord.load(directory)
    header, row, inputs = capsys.readouterr().out.strip().splitlines()
    assert inputs == "inputs: 4 of 32 documents, stratified by category, seed 0 (all 4)"
    assert header.split() == ["pair", "N", "a", "x", "b", "tokens", "R", "R/N", "median", "r",
                              "dead", "a/b", "null", "pairs", "seconds", "record"]
    assert row.startswith("tiny-neox x tiny-opt") and row.endswith(str(directory))
    cells = row.split()
    assert cells[3:9] == [str(record.n_neurons_a), "x", str(record.n_neurons_b),
                          str(record.n_tokens), str(record.n_rosetta),
                          f"{record.rosetta_fraction:.3f}"]
    assert cells[10:12] == [f"{record.dead_a}/{record.dead_b}", "none"]
    assert guarantee_text(record.config["guarantee"]) in row  # as the record states it


def test_unknown_models_and_models_of_another_family_are_explained(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--family", "language", "--pair", "nope", "opt-125m", "--device", "cpu"])
    assert "unknown model 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--family", "toy", "--pair", "toy-n512-N8", "pythia-70m", "--out", str(tmp_path)])
    assert "toy specs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--family", "vision", "--pair", "toy-n512-N8", "dinov2-base", "--device", "cpu"])
    assert "toy-n512-N8 is a toy model, not a vision model" in capsys.readouterr().err


@pytest.mark.usefixtures("one_torch_thread")
def test_the_toy_family_runs_through_the_same_command(tmp_path):
    directory, = main(["--family", "toy", "--pair", "toy-n512-N8", "toy-n512-N8",
                       "--beta", "2.0", "--device", "cpu", "--out", str(tmp_path)])
    sweep = ToySweep.load(directory)
    assert sweep.config["toy"]["beta"] == 2.0 and sweep.widths.tolist() == [8.0]
    records = [MatchRecord.load(path) for path in sorted((directory / "matches").iterdir())]
    assert {r.null for r in records} == {"none", "untrained", "permuted"}
    assert all(r.family == "toy" and r.size_a == get_spec("toy-n512-N8").n_params
               for r in records)


def test_bad_flags_and_inputs_exit_2_naming_the_flag(saved_pair, tmp_path, capsys):
    root, _, _ = saved_pair
    common = ["--family", "language", "--pair", "tiny-neox", "tiny-opt", "--path-a",
              str(root / "a"), "--path-b", str(root / "b"), "--device", "cpu", "--out",
              str(tmp_path / "runs")]
    with pytest.raises(SystemExit) as exit_info:
        main([*common, "--k", "0"])
    assert exit_info.value.code == 2 and "--k must be an integer >= 1" in capsys.readouterr().err
    long_text = tmp_path / "long.txt"
    long_text.write_text(" ".join(f"word{i}" for i in range(3000)))
    with pytest.raises(SystemExit) as exit_info:
        main([*common, "--text", str(long_text), "--tokens", "4096"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "beyond the context of tiny-neox (1024 positions)" in err and "--tokens" in err
    assert not list((tmp_path / "runs").glob("match/*/record.json"))


def test_a_built_corpus_is_the_stimulus_and_named_in_the_record(saved_pair, tmp_path):
    from empirics.capture.offline import Recipe, build_corpus

    root, _, _ = saved_pair
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "mod.py").write_text("def f(x):\n    return x + 1\n" * 40)
    corpus = build_corpus(tmp_path / "corpus", Recipe(stdlib=str(lib), share=str(tmp_path / "-"),
                                                      heldout_percent=30, debian_docs=False))
    directory, = main(["--family", "language", "--pair", "tiny-neox", "tiny-opt", "--path-a",
                       str(root / "a"), "--path-b", str(root / "b"), "--device", "cpu",
                       "--corpus", str(tmp_path / "corpus"), "--docs", "3", "--tokens", "256",
                       "--batch", "3", "--examples", "0", "--out", str(tmp_path / "runs")])
    record = MatchRecord.load(directory)
    assert record.config["corpus"]["sha256"] == corpus.sha256
    assert record.config["corpus"]["recipe"]["heldout_percent"] == 30
    heldout = [d.id for d in corpus.documents("heldout")]
    draw = record.config["corpus"]["draw"]
    assert draw["rule"] == "stratified" and draw["docs"] == 3 and draw["of"] == len(heldout)
    assert sum(draw["categories"].values()) == 3
    assert set(record.config["inputs"]) <= set(heldout) and len(record.config["inputs"]) == 3


def test_the_official_replay_writes_a_record_of_its_own_series(saved_pair, tmp_path, capsys):
    root, _, _ = saved_pair
    common = ["--family", "language", "--pair", "tiny-neox", "tiny-opt", "--path-a",
              str(root / "a"), "--path-b", str(root / "b"), "--device", "cpu", "--docs", "4",
              "--tokens", "64", "--batch", "2", "--examples", "0", "--out",
              str(tmp_path / "runs")]
    with pytest.raises(SystemExit) as exit_info:
        main([*common, "--replay", "official"])  # the default 64 bootstrap groups
    assert exit_info.value.code == 2 and "pass --groups 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "vision", "--pair", "openclip-vit-b-16", "dinov2-base", "--device",
              "cpu", "--replay", "official", "--groups", "0"])
    assert exit_info.value.code == 2 and "vision family has no replay" in capsys.readouterr().err
    replayed, = main([*common, "--replay", "official", "--groups", "0"])
    exact, = main([*common, "--groups", "0"])
    record, reference = MatchRecord.load(replayed), MatchRecord.load(exact)
    assert replayed != exact and record.series_key() != reference.series_key()
    assert record.config["replay"] == "official" and "replay" not in reference.config
    assert record.config["capture"]["alignment"] == "official"
    assert "alignment" not in reference.config["capture"]
    assert not record.rechecked and record.chunks == {} and record.min_correlation == 0.0
    assert record.n_rosetta > 0 and (record.pairs["r"] >= 0).all()
    assert record.n_neurons_a == reference.n_neurons_a


def test_the_engines_mode_names_its_run_and_its_guarantee(saved_pair, tmp_path):
    """Two-stage (the default) and block runs of one pair are different runs and series;
    each record states the mode that produced it, and the two find the same pairs."""
    root, _, _ = saved_pair
    common = ["--family", "language", "--pair", "tiny-neox", "tiny-opt", "--path-a",
              str(root / "a"), "--path-b", str(root / "b"), "--device", "cpu", "--docs", "6",
              "--tokens", "64", "--batch", "2", "--examples", "0", "--groups", "3", "--out",
              str(tmp_path / "runs")]
    two_stage, = main([*common, "--subsample", "100", "--recheck-uncertified"])
    block, = main([*common, "--engine", "block"])
    record, reference = MatchRecord.load(two_stage), MatchRecord.load(block)
    assert two_stage != block and record.series_key() != reference.series_key()
    assert record.config["engine"] == "two-stage" and "engine" not in reference.config
    guarantee = record.config["guarantee"]
    assert guarantee["mode"] == "two-stage" and guarantee["subsample"] == 100
    # every pair of one side fits the exact pass's cover: certified, nothing to recheck
    assert is_exact(guarantee) and guarantee["uncertified_a"] == guarantee["uncertified_b"] == 0
    assert reference.config["guarantee"] == {"mode": "block"}
    for name in ("layer_a", "unit_a", "layer_b", "unit_b"):
        np.testing.assert_array_equal(record.pairs[name], reference.pairs[name])
    np.testing.assert_allclose(record.pairs["r"], reference.pairs["r"], rtol=0, atol=1e-6)


def test_each_checkpoint_has_its_own_untrained_twin(saved_pair, tmp_path):
    """--init random draws each model's twin from its own name and the null seed: two seed
    pairs of one architecture are two pairs of random networks, not one pair drawn twice, and a
    checkpoint's twin is the same network in every pair it takes part in."""
    root, spec_b, _ = saved_pair
    bpe, _ = train_tokenizers()
    specs = {}
    for name, seed in (("tiny-s0", 3), ("tiny-s1", 4)):
        save_text_model(tmp_path / name, "gpt_neox", bpe, seed=seed)
        specs[name] = resolve_spec(name, tmp_path / name)
    options = dataclasses.replace(OPTIONS, init="random", examples=0)
    common = dict(family="language", inputs=default_corpus()[:8], options=options,
                  out=tmp_path / "runs", device=torch.device("cpu"))
    first = MatchRecord.load(match_pair(specs["tiny-s0"], spec_b, **common,
                                        paths=(tmp_path / "tiny-s0", root / "a")))
    second = MatchRecord.load(match_pair(specs["tiny-s1"], spec_b, **common,
                                         paths=(tmp_path / "tiny-s1", root / "a")))
    seeds = [[w["init_seed"] for w in record.config["weights"]] for record in (first, second)]
    assert seeds[0][0] != seeds[1][0] and seeds[0][1] == seeds[1][1]
    assert not np.array_equal(first.pairs["r"], second.pairs["r"])
    alone = MatchRecord.load(match_pair(specs["tiny-s0"], specs["tiny-s0"], **common,
                                        paths=(tmp_path / "tiny-s0",) * 2))
    twins = [w["init_seed"] for w in alone.config["weights"]]
    assert twins[0] == seeds[0][0] and twins[1] != twins[0]  # a model never meets its own twin
    assert alone.n_rosetta < alone.n_neurons_a - alone.dead_a


@pytest.mark.parametrize("docs", ["0", "-1"])
def test_a_non_positive_document_count_is_refused(docs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "language", "--pair", "pythia-70m", "opt-125m", "--docs", docs,
              "--device", "cpu", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "--docs must be an integer >= 1" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def common_flags(root, tmp_path):
    return ["--family", "language", "--pair", "tiny-neox", "tiny-opt", "--path-a",
            str(root / "a"), "--path-b", str(root / "b"), "--docs", "2", "--tokens", "32",
            "--batch", "2", "--groups", "0", "--examples", "0", "--out", str(tmp_path / "runs")]


@pytest.mark.parametrize("kind, message", [
    ("missing", "is not a folder of saved models"),
    ("file", "is not a folder of saved models"),
    ("empty", "no saved models (folders with config.json) in"),
])
def test_a_model_dir_that_is_not_a_family_is_a_data_error(tmp_path, capsys, kind, message):
    folder = tmp_path / "family"
    if kind == "file":
        folder.write_text("not a folder")
    elif kind == "empty":
        folder.mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "language", "--model-dir", str(folder), "--all", "--device", "cpu",
              "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "Traceback" not in err
    assert err.startswith("python -m empirics.match: error: ") and message in err
    assert str(folder) in err and not (tmp_path / "runs").exists()


def test_a_device_this_machine_lacks_is_refused_before_anything_runs(saved_pair, tmp_path,
                                                                     capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    root, _, _ = saved_pair
    with pytest.raises(SystemExit) as exit_info:
        main([*common_flags(root, tmp_path), "--device", "cuda"])
    assert exit_info.value.code == 2
    assert "--device cuda: device 'cuda' was asked for, but CUDA is not available here" in \
        capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_truncated_weights_file_is_named(saved_pair, tmp_path, capsys):
    root, _, _ = saved_pair
    shutil.copytree(root / "a", tmp_path / "a")
    shutil.copytree(root / "b", tmp_path / "b")
    weights = tmp_path / "a" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(SystemExit) as exit_info:
        main([*common_flags(tmp_path, tmp_path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "Traceback" not in err
    assert f"model tiny-neox: the weights file {weights} is damaged" in err
    assert not list((tmp_path / "runs").glob("match/*"))


@pytest.mark.parametrize("damage, message", [
    ("split", "heldout.jsonl does not match the sha256 in"),
    ("manifest", "manifest.json is not a corpus manifest"),
    ("missing", "heldout.jsonl: the corpus's heldout split cannot be read"),
])
def test_a_damaged_corpus_is_named_and_nothing_is_written(saved_pair, tmp_path, capsys,
                                                          damage, message):
    from empirics.capture.offline import Recipe, build_corpus

    root, _, _ = saved_pair
    lib = tmp_path / "lib"
    lib.mkdir()
    for k in range(6):
        (lib / f"mod{k}.py").write_text(f"def f{k}(x):\n    return x + {k}\n" * 20)
    corpus = tmp_path / "corpus"
    build_corpus(corpus, Recipe(stdlib=str(lib), share=str(tmp_path / "-"),
                                heldout_percent=50, debian_docs=False))
    if damage == "split":
        with open(corpus / "heldout.jsonl", "a") as file:
            file.write("{}\n")
    elif damage == "manifest":
        (corpus / "manifest.json").write_text("{")
    else:
        (corpus / "heldout.jsonl").unlink()
    with pytest.raises(SystemExit) as exit_info:
        main([*common_flags(root, tmp_path), "--device", "cpu", "--corpus", str(corpus)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "Traceback" not in err
    assert f"{corpus}/{message}" in err and not (tmp_path / "runs").exists()


def test_a_family_of_text_models_matched_as_vision_is_a_usage_error(saved_pair, tmp_path,
                                                                    capsys):
    root, _, _ = saved_pair
    family = tmp_path / "family"
    for name, saved in (("gpt_neox-w32-s0", "a"), ("opt-w32-s0", "b")):
        shutil.copytree(root / saved, family / name)
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "vision", "--model-dir", str(family), "--all", "--device", "cpu",
              "--out", str(tmp_path / "runs")])
    assert exit_info.value.code == 2
    assert "gpt_neox-w32-s0 is a text model, not a vision model" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_what_several_processes_cannot_share_is_refused_before_a_model_loads(
        saved_pair, tmp_path, capsys, monkeypatch):
    """Under torchrun (WORLD_SIZE 2) the two-stage engine split by neurons and the official
    replay (and the toy family, which trains its own nets in one process) exit 2 naming the
    fix, before a model loads or a process group forms; the library refuses them before
    loading as well."""
    import empirics.pipeline.match as pipeline
    from empirics.engine.distributed import Ranks

    def no_load(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(pipeline, "load_model", no_load)
    monkeypatch.setenv("WORLD_SIZE", "2")
    root, spec_a, spec_b = saved_pair
    common = ["--family", "language", "--pair", "tiny-neox", "tiny-opt", "--path-a",
              str(root / "a"), "--path-b", str(root / "b"), "--docs", "4", "--out",
              str(tmp_path), "--device", "cpu"]
    for extra, wanted in ((["--split", "neurons"], "--split data"),
                          (["--replay", "official", "--groups", "0"], "one process")):
        with pytest.raises(SystemExit) as exited:
            main([*common, *extra])
        assert exited.value.code == 2 and wanted in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["--family", "toy", "--all", "--out", str(tmp_path)])
    assert exited.value.code == 2 and "one process" in capsys.readouterr().err
    kwargs = dict(family="language", inputs=default_corpus()[:4], out=tmp_path,
                  device=torch.device("cpu"), paths=(root / "a", root / "b"))
    with pytest.raises(ValueError, match="--split data"):
        match_pair(spec_a, spec_b, options=OPTIONS, ranks=Ranks(0, 2, "neurons"), **kwargs)
    assert not list(tmp_path.rglob("record.json"))


def test_the_sample_spills_to_disk_by_its_stored_size(tmp_path, monkeypatch):
    """On CUDA the sample is stored in bfloat16: it stays in memory when its bfloat16 size
    fits half the host's memory, though its float32 size would not."""
    import empirics.pipeline.match as pipeline
    from empirics.engine.distributed import Ranks

    options = MatchOptions(subsample=1000)
    widths = (300, 200)  # 1000 x 500 values: 1.0 MB in bfloat16, 2.0 MB in float32
    monkeypatch.setattr(pipeline, "available_memory", lambda device: 3.6e6)
    assert pipeline._sample_dir(options, widths, tmp_path, torch.device("cuda")) is None
    spilled = pipeline._sample_dir(options, widths, tmp_path, torch.device("cpu"))
    assert spilled == tmp_path / "state" / "sample"
    shared = pipeline._sample_dir(options, widths, tmp_path, torch.device("cpu"), Ranks(1, 2))
    assert shared == spilled / "rank-1-of-2"
    # a rank holds its own tokens' sample and then its share: 1.0 + 0.7 MB in bfloat16, and
    # two ranks on one machine hold twice that
    one_rank = Ranks(0, 2, device=torch.device("cpu"))
    assert pipeline._sample_dir(options, widths, tmp_path, torch.device("cuda"), one_rank) is None
    two_here = Ranks(0, 2, local_world=2)
    assert pipeline._sample_dir(options, widths, tmp_path, torch.device("cuda"),
                                two_here) == spilled / "rank-0-of-2"
