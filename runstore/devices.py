"""Device resolution for the commands: `--device auto` is CUDA when present, else the CPU.

Only a command's `main()` resolves a device; library code receives one (docs/design.md,
principles 2, 3 and 7). torch is imported when a device is resolved, not with this module,
so the torch-free layers may name the flag.
"""

from __future__ import annotations

import argparse


def resolve_device(spec: str = "auto"):
    """Turn "auto" into CUDA when present, else CPU; check that an explicit device exists.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If `spec` names a CUDA device that this machine does not have, or is not a device.
    """
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as error:
        raise ValueError(f"--device must be 'auto', 'cpu' or 'cuda[:i]', got {spec!r}") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} was asked for, but CUDA is not available here")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device {spec!r} was asked for, but only {torch.cuda.device_count()} CUDA "
                "device(s) exist"
            )
    return device


def device_name(spec: str) -> str:
    """The `--device` flag's type: the device `spec` resolves to, by name ("cpu", "cuda");
    a device this machine lacks is a usage error (exit status 2)."""
    try:
        return str(resolve_device(spec))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
