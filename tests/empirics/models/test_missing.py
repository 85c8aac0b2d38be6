"""The missing-model message: the commands' flags, and the Hugging Face cache the user has."""

import dataclasses
from pathlib import Path

import pytest

from empirics.models.missing import hub_cache, in_hub_cache, missing_message
from empirics.models.registry import get_spec

CACHE_VARIABLES = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME")


@pytest.fixture
def environment(monkeypatch, tmp_path):
    for name in CACHE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_the_cache_is_found_as_huggingface_hub_finds_it(environment, tmp_path):
    assert hub_cache() == tmp_path / "home" / ".cache" / "huggingface" / "hub"
    environment.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub_cache() == tmp_path / "xdg" / "huggingface" / "hub"
    environment.setenv("HF_HOME", str(tmp_path / "hf-home"))
    assert hub_cache() == tmp_path / "hf-home" / "hub"
    environment.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    assert hub_cache() == tmp_path / "hub-cache"
    assert hub_cache(tmp_path / "given") == tmp_path / "given"  # --cache-dir wins
    assert hub_cache(environ={}) == Path("~/.cache/huggingface/hub").expanduser()


def test_the_message_speaks_the_flags_and_names_the_cache(environment, tmp_path):
    environment.setenv("HF_HOME", str(tmp_path / "hf-home"))
    message = missing_message(get_spec("pythia-70m"), ["the whole repository"], in_hub_cache())
    cache = tmp_path / "hf-home" / "hub"
    assert f"missing the whole repository in the Hugging Face cache {cache}." in message
    assert f"copy that machine's hub cache into {cache} here" in message
    assert "`hf download EleutherAI/pythia-70m`" in message
    for flag in ("--cache-dir", "--path-a/--path-b", "--model-dir", "--download"):
        assert flag in message
    for python in ("path=", "download=True", "cache_dir"):
        assert python not in message


def test_a_local_model_is_not_sent_to_the_hub(tmp_path):
    spec = dataclasses.replace(get_spec("pythia-70m"), name="gpt_neox-w32-s0", hf_id=None)
    message = missing_message(spec, ["weights (*.safetensors or *.bin)"], str(tmp_path))
    assert message.startswith(f"model gpt_neox-w32-s0 is not available offline: missing "
                              f"weights (*.safetensors or *.bin) in {tmp_path}. It has no "
                              "Hugging Face repository: save the checkpoint there again")
    assert "--model-dir" in message and "download" not in message and "None" not in message
