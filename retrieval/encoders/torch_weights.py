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
    """Load the ``model.*`` arrays into ``model`` (strictly), move it to ``device``, set eval mode."""
    weights = {k.removeprefix(PREFIX): torch.from_numpy(v) for k, v in arrays.items() if k.startswith(PREFIX)}
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise EncoderFileError(f"weights do not fit the saved autoencoder config ({exc})") from exc
    return model.to(device).eval()
