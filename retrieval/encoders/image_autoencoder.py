"""Image autoencoders: convolutional (``conv-ae``) and dense (``dense-ae``), one training recipe.

Pixels are standardised per channel (statistics of the training images); the network
reconstructs them under MSE, from an input with Gaussian noise added (denoising) and random
horizontal flips (the codes should not care which way a picture faces).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..device import resolve_device
from ..nn.conv import ConvAutoencoder
from ..nn.dense import DenseAutoencoder
from ..nn.training import seed_everything, train
from .image_base import PIXELS, ImageEncoder
from .torch_weights import load_model_arrays, model_arrays

ENCODE_BATCH = 1024
# Krizhevsky & Hinton (2011): 3072 → 8192 → 4096 → 2048 → 1024 → 512 → code.
KRIZHEVSKY_2011 = (8192, 4096, 2048, 1024, 512)


class ImageAutoencoder(ImageEncoder):
    """Shared fit/encode/save for the image autoencoders; subclasses build the network."""

    def __init__(
        self,
        dim: int = 64,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        input_noise: float = 0.1,
        flip: bool = True,
        seed: int = 0,
        device: str = "auto",
        progress: bool = True,
    ) -> None:
        self.code_dim = dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.input_noise = input_noise
        self.flip = flip
        self.seed = seed
        self.device = device  # runtime only: not saved
        self.progress = progress  # runtime only: not saved

    @property
    def dim(self) -> int:
        return self.code_dim

    def get_config(self) -> dict[str, Any]:
        return {
            "dim": self.code_dim, "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
            "weight_decay": self.weight_decay, "input_noise": self.input_noise, "flip": self.flip, "seed": self.seed,
        }  # fmt: skip

    def _build(self) -> nn.Module:
        raise NotImplementedError

    def _to_input(self, images: np.ndarray, device: torch.device) -> torch.Tensor:
        """Standardised ``(n, 3, 32, 32)`` float tensor."""
        x = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.from_numpy(self.mean_).to(device).view(1, 3, 1, 1)
        std = torch.from_numpy(self.std_).to(device).view(1, 3, 1, 1)
        return (x - mean) / std

    def _fit_images(self, images: np.ndarray) -> None:
        seed_everything(self.seed)
        device = resolve_device(self.device)
        pixels = images.reshape(-1, 3).astype(np.float64) / 255.0
        self.mean_ = pixels.mean(0).astype(np.float32)
        self.std_ = np.maximum(pixels.std(0), 1e-3).astype(np.float32)
        self.model_ = self._build().to(device)

        def batch_loss(idx: np.ndarray) -> torch.Tensor:
            x = self._to_input(images[np.sort(idx)], device)
            if self.flip:
                flip = torch.rand(len(x), device=device) < 0.5
                x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
            noisy = x + self.input_noise * torch.randn_like(x) if self.input_noise else x
            _, recon = self.model_(self._shape_in(noisy))
            return F.mse_loss(recon, self._shape_in(x))

        self.history_ = train(
            self.model_, len(images), batch_loss, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            weight_decay=self.weight_decay, seed=self.seed, progress=self.progress, desc=f"training {self.name}",
        )  # fmt: skip

    def _shape_in(self, x: torch.Tensor) -> torch.Tensor:
        """What the network takes: images as they are (conv) or flattened (dense)."""
        return x

    @torch.no_grad()
    def _encode_images(self, images: np.ndarray) -> np.ndarray:
        device = next(self.model_.parameters()).device
        self.model_.eval()
        out = np.empty((len(images), self.code_dim), dtype=np.float32)
        for start in range(0, len(images), ENCODE_BATCH):
            x = self._to_input(images[start : start + ENCODE_BATCH], device)
            out[start : start + len(x)] = self.model_.encoder(self._shape_in(x)).cpu().numpy()
        return out

    @torch.no_grad()
    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """The network's reconstruction of ``images``, as ``(n, 32, 32, 3)`` uint8."""
        device = next(self.model_.parameters()).device
        x = self._to_input(images, device)
        _, recon = self.model_(self._shape_in(x))
        recon = recon.view(-1, 3, 32, 32)
        mean = torch.from_numpy(self.mean_).to(device).view(1, 3, 1, 1)
        std = torch.from_numpy(self.std_).to(device).view(1, 3, 1, 1)
        pixels = ((recon * std + mean).clamp(0, 1) * 255).round().byte()
        return pixels.permute(0, 2, 3, 1).cpu().numpy()

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {**model_arrays(self.model_), "mean": self.mean_, "std": self.std_}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(state, arrays)
        self.mean_, self.std_ = arrays["mean"], arrays["std"]
        self.model_ = load_model_arrays(self._build(), arrays, resolve_device(self.device))


class ConvImageAutoencoder(ImageAutoencoder):
    """Convolutional autoencoder; ``channels`` sets the width of each down-sampling stage."""

    name: ClassVar[str] = "conv-ae"

    def __init__(self, dim: int = 64, channels: Sequence[int] = (32, 64, 128), **options: Any) -> None:
        super().__init__(dim, **options)
        self.channels = tuple(channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "channels": list(self.channels)}

    def describe(self) -> str:
        return f"conv-ae(channels={'-'.join(map(str, self.channels))}, dim={self.code_dim})"

    def _build(self) -> nn.Module:
        return ConvAutoencoder(self.code_dim, self.channels)


class DenseImageAutoencoder(ImageAutoencoder):
    """Dense autoencoder on the 3,072 pixels; ``hidden="krizhevsky2011"`` is the paper's preset."""

    name: ClassVar[str] = "dense-ae"

    def __init__(self, dim: int = 64, hidden: Sequence[int] | str = (1024, 512), **options: Any) -> None:
        super().__init__(dim, **options)
        self.hidden = KRIZHEVSKY_2011 if hidden == "krizhevsky2011" else tuple(hidden)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "hidden": list(self.hidden)}

    def describe(self) -> str:
        return f"dense-ae({'-'.join(str(s) for s in (PIXELS, *self.hidden, self.code_dim))})"

    def _build(self) -> nn.Module:
        return DenseAutoencoder(PIXELS, self.hidden, self.code_dim)

    def _shape_in(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), -1)
