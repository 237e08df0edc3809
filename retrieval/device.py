"""Choosing the torch device from ``auto``, ``cpu`` or ``cuda``."""

from __future__ import annotations

import torch

from .errors import DeviceError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA when torch sees a GPU, else the CPU; ``cuda`` without a GPU is an error."""
    if name not in DEVICES and not name.startswith("cuda:"):
        raise DeviceError(f"The 'device' parameter must be one of {DEVICES}. Got {name!r} instead.")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} was asked for, but torch sees no CUDA GPU")
    return torch.device(name)
