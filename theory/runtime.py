"""Device resolution. Only command-line `main()` functions call it; library code receives a
device as a parameter (docs/design.md, principles 2, 3 and 7)."""

from __future__ import annotations

import torch


def resolve_device(spec: str = "auto") -> torch.device:
    """Turn "auto" into CUDA when present, else CPU; check that an explicit device exists.

    Raises
    ------
    ValueError
        If `spec` names a CUDA device that this machine does not have, or is not a device.
    """
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
