"""Device resolution of the commands' --device flag."""

import argparse

import pytest
import torch

from runstore.devices import device_name, resolve_device


def test_auto_device_follows_cuda_availability():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a CPU-only machine")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0")


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match="--device"):
        resolve_device("tpu-ish")


def test_the_flag_type_names_the_device_and_turns_a_bad_one_into_a_usage_error():
    assert device_name("cpu") == "cpu"
    assert device_name("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(argparse.ArgumentTypeError, match="--device"):
        device_name("tpu-ish")
