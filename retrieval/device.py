"""Choosing the torch device from ``auto``, ``cpu`` or ``cuda`` (torch is imported when a device is resolved,
so the CLI's ``--device`` option can list the choices without loading it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import DeviceError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")


def check_device(name: str) -> str:
    """``name`` if it names a device (``auto``, ``cpu``, ``cuda``, ``cuda:<n>``), else ``DeviceError``; torch is not
    asked whether the device is there (``resolve_device`` does)."""
    if not isinstance(name, str) or (name not in DEVICES and not name.startswith("cuda:")):
        raise DeviceError(f"The 'device' parameter must be one of {DEVICES}. Got {name!r} instead.")
    return name


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA when torch sees a GPU, else the CPU; ``cuda`` without a GPU is an error."""
    import torch

    check_device(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} was asked for, but torch sees no CUDA GPU")
    return torch.device(name)
