"""A torch model's weights as named numpy arrays (for safetensors) and back, with a clear error."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import EncoderFileError

PREFIX = "model."


def model_arrays(model: nn.Module) -> dict[str, np.ndarray]:
    """The ``state_dict`` as ``model.<name>`` numpy arrays."""
    return {PREFIX + k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def load_model_arrays(model: nn.Module, arrays: dict[str, np.ndarray], device: torch.device) -> nn.Module:
    """Load the ``model.*`` arrays into ``model`` (strictly), move it to ``device``, set eval mode.

    ``model`` may be built on the ``meta`` device (``load_encoder`` does so): nothing is allocated until the
    arrays, checked against its shapes, are taken as its parameters.
    """
    weights = {k.removeprefix(PREFIX): torch.from_numpy(v) for k, v in arrays.items() if k.startswith(PREFIX)}
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in weights.items()}
    if expected != found:  # checked here: a meta-device model's load would not compare shapes
        wrong = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
        raise EncoderFileError(
            f"weights do not fit the saved autoencoder config ({wrong[0]}: the config makes "
            f"{expected.get(wrong[0])}, the file holds {found.get(wrong[0])})"
        )
    try:
        model.load_state_dict(weights, strict=True, assign=True)
    except RuntimeError as exc:
        raise EncoderFileError(f"weights do not fit the saved autoencoder config ({exc})") from exc
    return model.to(device).eval()
