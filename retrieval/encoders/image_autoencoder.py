"""Image autoencoders: convolutional (``conv-ae``) and dense (``dense-ae``), one training recipe.

Pixels are standardised per channel (statistics of the training images) and the network reconstructs them under
MSE. With ``contrastive`` > 0 (the default) each training image is seen as two random views (resized crop, flip,
colour jitter, greyscale; ``retrieval.nn.augment``; crop and flip read from the fit images, label-free, by
``retrieval.defaults.choose_crops`` and ``choose_flips``): each view reconstructs itself, and an NT-Xent term on a
small projection head of the code pulls the two views' codes together, so the code keeps what a picture shows
rather than exactly where its pixels are. With ``orientation`` > 0 each image (both its views) is first given a
random quarter-turn that a head on the code must tell (RotNet): the ``orientation`` outlier score
(``retrieval.nn.orientation``). Labels are never used. With ``contrastive=0`` it is a plain autoencoder (random
flips only). Codes are centred and compared by cosine.

Variants (off by default): denoising with Gaussian ``input_noise`` and/or ``mask`` noise, ``sparse`` (L1) and
``code_l2`` penalties on the code, ``contractive`` (encoder Jacobian penalty), a VQ ``codebook`` of that many
codewords per code segment, and for the dense model ``tied`` weights and greedy layer-wise pre-training
(``pretrain_epochs`` per layer). Bits come by a learned rotation of the floats (``rotation.py``) or a binary code
layer; the conv model's width is chosen from the fit set's size (``retrieval.defaults.conv_channels``).

The options, their defaults and the rules: ``retrieval.defaults`` (``ConvAeConfig``, ``DenseAeConfig``). The
measurements behind each choice: docs/encoders.md ("Images", "Autoencoder variants") and docs/results.md."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..defaults import (
    CROP_SCALES,
    KRIZHEVSKY_2011,
    ConvAeConfig,
    DenseAeConfig,
    choose_crops,
    choose_flips,
    conv_channels,
    image_budget,
)  # fmt: skip
from ..device import resolve_device
from ..errors import InvalidParameterError
from ..nn.augment import crop_ratio, mirror_ratio, nt_xent, random_flip, random_view
from ..nn.conv import ConvAutoencoder
from ..nn.dense import DenseAutoencoder
from ..nn.early_stopping import EarlyStopping, held_out_mean, held_out_split, stopping_note
from ..nn.losses import pixel_mse
from ..nn.orientation import (
    TRANSFORM_SETS,
    orientation_head,
    orientation_loss,
    orientation_surprise,
    random_turns,
    transform_batch,
    transform_set,
)  # fmt: skip
from ..nn.pretraining import pretrain_layers
from ..nn.regularizers import code_penalty, contractive_penalty
from ..nn.training import seeded_fit, train
from ..nn.vq import VectorQuantizer
from .base import BinaryCapable, CodeWidth, HiddenLayers, binary_note
from .graph_part import GraphPart, anchor_sample, choose_graph_part, fit_graph_part, graph_arrays, graph_state
from .graph_part import load_graph
from .image_base import PIXELS, ImageEncoder, as_batch
from .params import check_binarise, check_bits
from .pixel_part import PixelPart, choose_pixel_part, fit_pixel_part, load_part, part_arrays, part_state
from .registry import register
from .torch_weights import load_model_arrays, model_arrays

ENCODE_BATCH = 1024
CHANNELS_LAST = torch.channels_last
HEAD_WIDTH = 256
_TOLD = {"rotations": "random quarter-turns",
         "geometric": "random geometric transformations (72: flip × shifts × quarter-turns, GEOM)"}  # fmt: skip


class ImageAutoencoder(CodeWidth, BinaryCapable, ImageEncoder):
    """Shared fit/encode/save for the image autoencoders; subclasses build the network."""

    pretrain_epochs: int = 0  # greedy layer-wise pre-training: the dense model only
    part_: PixelPart | None = None  # the pixel part appended to the code (retrieval.encoders.pixel_part)
    graph_: GraphPart | None = None  # and the graph part after it (retrieval.encoders.graph_part)

    @property
    def dim(self) -> int:
        parts = (part.width for part in (self.part_, self.graph_) if part is not None)
        return super().dim + sum(parts)  # type: ignore[misc]

    def _units(self) -> int:
        return self.config.dim if not self.bits else super()._units()  # the network's width: no pixel part

    def _check_options(self) -> None:
        if self.codebook and self.bits:
            raise InvalidParameterError("choose either binary codes ('bits') or a VQ 'codebook', not both")
        if self.transforms not in TRANSFORM_SETS:
            sets = ", ".join(map(repr, TRANSFORM_SETS))
            raise InvalidParameterError(
                f"The 'transforms' parameter must be one of {sets}. Got {self.transforms!r} instead.")
        super()._check_options()

    def _build(self) -> nn.Module:
        raise NotImplementedError

    def _build_all(self) -> nn.Module:
        """The network, with a VQ codebook on its code layer when ``codebook`` is set."""
        model = self._build()
        if self.codebook:
            model.quantizer = VectorQuantizer(self._units(), self.codebook, self.segments)
        if self.orientation:
            model.orientation_head = orientation_head(self._units(), len(transform_set(self.transforms)))
        return model

    def _code(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The code of network input ``x`` (quantised with a codebook) and the VQ loss (0 without)."""
        code = self.model_.encoder(x)
        if self.codebook:
            return self.model_.quantizer(code)
        return code, code.new_zeros(())

    def _corrupt(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Denoising: Gaussian noise and masking noise (a fraction of pixels set to 0, the mean)."""
        if self.input_noise:
            x = x + self.input_noise * torch.randn(x.shape, generator=gen).to(x.device)
        if self.mask:
            keep = torch.rand(x.shape[0], 1, *x.shape[2:], generator=gen).to(x.device) >= self.mask
            x = x * keep
        return x

    def _unit(self, images: np.ndarray, device: torch.device) -> torch.Tensor:
        """``(n, 3, 32, 32)`` float tensor in [0, 1]."""
        return torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div_(255.0)

    def _standardise(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.from_numpy(self.mean_).to(x.device).view(1, 3, 1, 1)
        std = torch.from_numpy(self.std_).to(x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    @seeded_fit
    def _fit_images(self, images: np.ndarray) -> None:
        check_bits(self.bits, type(self).__name__)
        check_binarise(self.binarise, self.float_dim, type(self).__name__)
        device = resolve_device(self.device)
        gen = torch.Generator().manual_seed(self.seed)
        pixels = images.reshape(-1, 3).astype(np.float64) / 255.0
        self.mean_ = pixels.mean(0).astype(np.float32)
        self.std_ = np.maximum(pixels.std(0), 1e-3).astype(np.float32)
        width = self._choose_width(len(images))
        self.model_ = self._build_all().to(device)
        if self.pretrain_epochs:
            pretrain_layers(
                self.model_, len(images),
                lambda idx: self._shape_in(self._standardise(self._unit(images[np.sort(idx)], device))),
                epochs=self.pretrain_epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                progress=self.progress,
            )  # fmt: skip
        flip, flip_reason = choose_flips(self.flip, lambda: mirror_ratio(images))
        crop, crop_reason = choose_crops(self.crop, self.contrastive, lambda scale: crop_ratio(images, scale))
        head = nn.Sequential(nn.Linear(self._units(), HEAD_WIDTH), nn.ReLU(), nn.Linear(HEAD_WIDTH, self._units()))
        trained = nn.ModuleDict({"autoencoder": self.model_, "head": head}).to(device)

        transforms = transform_set(self.transforms) if self.orientation else ()
        # the quarter-turns are told from the views; GEOM's set, as GEOM trains, from the transformed images
        # themselves (its flips and shifts are what a view's mirror and crop would blur)
        on_views = self.transforms == "rotations"

        def batch_loss(idx: np.ndarray, gen: torch.Generator = gen) -> torch.Tensor:
            x = self._unit(images[np.sort(idx)], device)
            if self.contrastive:
                pair = [random_view(x, gen, crop, flip=flip) for _ in range(2)]
            else:
                pair = [random_flip(x, gen) if flip else x]
            if self.orientation:  # each image (both its views) a random transformation, which the head must tell
                turns = random_turns(len(x), gen, device, len(transforms))  # after the views: their flips keep it
                if on_views:
                    pair = [transform_batch(view, turns, transforms) for view in pair]
                else:
                    shown = self._shape_in(self._standardise(transform_batch(x, turns, transforms)))
            views = self._standardise(torch.cat(pair))
            noisy = self._shape_in(self._corrupt(views, gen))
            code, vq_loss = self._code(noisy)
            recon = self.model_.decoder(code)
            loss = pixel_mse(recon, self._shape_in(views)).mean() + vq_loss
            loss = loss + code_penalty(code, self.sparse, self.code_l2)
            if self.contractive:
                loss = loss + self.contractive * contractive_penalty(self.model_.encoder, noisy)
            if self.contrastive:
                loss = loss + self.contrastive * nt_xent(head(code), self.temperature)
            if self.orientation:
                told = code if on_views else self._code(shown)[0]
                logits = self.model_.orientation_head(told)
                loss = loss + self.orientation * orientation_loss(logits, turns.repeat(len(told) // len(turns)))
            return loss

        fit, held = held_out_split(len(images), self.seed, self.early_stop and not self.epochs)
        # the held-out check: the training objective, the same views each time (a generator seeded per check)
        stopper = None if not len(held) else EarlyStopping(lambda: held_out_mean(
            lambda idx: batch_loss(idx, torch.Generator().manual_seed(self.seed + 1)), held, self.batch_size))
        epochs, floor, ceiling, budget = image_budget(self.epochs, self.min_steps, len(fit))
        self.history_ = train(
            trained, len(fit), lambda idx: batch_loss(fit[idx]), epochs=epochs, min_steps=floor, max_steps=ceiling,
            batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay, seed=self.seed,
            progress=self.progress, desc=f"training {self.name}", early_stop=stopper,
        )  # fmt: skip
        per_epoch = -(-len(fit) // self.batch_size)
        self.training_ = {
            "epochs": len(self.history_), "steps": len(self.history_) * per_epoch,
            "budget": budget,
            "early stopping": stopping_note(stopper, self.early_stop, self.epochs, per_epoch),
            "flips": flip_reason, **width,
            **({"orientation": f"weight {self.orientation:g}: {_TOLD[self.transforms]}, told from the code"}
               if self.orientation else {}),
            **({"crops": crop_reason} if self.contrastive else {}),
        }  # fmt: skip
        self.model_.eval()
        self.mirrored_ = flip and (on_views or not self.orientation)  # whether the head saw mirrored images
        self.code_mean_ = np.zeros(self._units(), dtype=np.float32)
        # one pass of the network over the fit images: the mean that centres real-valued codes (bits stay bits; a
        # rotation centres its own input), and the graph's anchors below
        units = self._real_codes(images) if not self.bits or self.binarise == "rotation" else None
        if not self.bits:
            self.code_mean_ = units.mean(0)
        elif self.binarise == "rotation":
            self._fit_rotation(units)
        weight, self.training_["pixel part"] = choose_pixel_part(
            self.pixel_part, self.pixel_dim, bool(self.bits), lambda: crop_ratio(images, CROP_SCALES[0]))
        self.part_ = fit_pixel_part(images, self.pixel_dim, weight, self.seed) if weight else None
        weight, self.training_["graph part"] = choose_graph_part(
            self.graph_part, self.part_ is not None, bool(self.bits), len(images))
        self.graph_ = None
        if weight:  # never for bits: units is set
            pick = anchor_sample(len(images), self.seed)
            anchors = self._append_parts(self._finish(units[pick] - self.code_mean_), images[pick])
            self.graph_ = fit_graph_part(anchors, weight, seed=self.seed)
            self.training_["graph part"] += f"; {self.graph_.note}"

    def _choose_width(self, n_images: int) -> dict[str, str]:
        return {}  # the conv model chooses its channels from the fit set's size (where not asked): why, for aer info

    def _shape_in(self, x: torch.Tensor) -> torch.Tensor:
        """What the network takes: images as they are (conv) or flattened (dense)."""
        return x

    def _passes(
        self, images: np.ndarray, codes: bool = True
    ) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor | None]]:
        """For each batch: its rows, the network input and the code (``None`` without ``codes``; call under
        ``torch.no_grad``)."""
        device = next(self.model_.parameters()).device
        self.model_.eval()
        for start in range(0, len(images), ENCODE_BATCH):
            x = self._shape_in(self._standardise(self._unit(images[start : start + ENCODE_BATCH], device)))
            yield slice(start, start + len(x)), x, self._code(x)[0] if codes else None

    def _encode(self, inputs: np.ndarray, errors: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Centred codes (or bits) and, if asked, each image's ``pixel_mse``: one forward pass per batch."""
        units, mse = self._encode_units(inputs, errors)
        return self._append_parts(self._finish(units), inputs), mse

    def _append_parts(self, codes: np.ndarray, images: np.ndarray) -> np.ndarray:
        """``codes`` with the pixel part and the graph part after them, where the encoder has them."""
        if self.part_ is not None:
            codes = self.part_.join(codes, images)
        return codes if self.graph_ is None else self.graph_.join(codes)

    @torch.no_grad()
    def _encode_units(self, inputs: np.ndarray, errors: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Centred code-layer outputs and, if asked, each image's ``pixel_mse``."""
        codes = np.empty((len(inputs), self._units()), dtype=np.float32)
        mse = np.empty(len(inputs), dtype=np.float32) if errors else None
        for rows, x, code in self._passes(inputs):
            codes[rows] = code.cpu().numpy()
            if mse is not None:
                mse[rows] = pixel_mse(self.model_.decoder(code), x).cpu().numpy()
        return codes - self.code_mean_, mse

    def orientation_errors(self, images: Any) -> np.ndarray | None:
        """Per image, how badly the orientation head tells its transformations apart (``orientation_surprise``):
        the ``orientation`` outlier score; ``None`` for a model trained without the head (``orientation=0``)."""
        self.check_fitted()
        if not self.orientation:
            return None
        images = as_batch(images)
        out = np.empty(len(images), dtype=np.float32)
        device = next(self.model_.parameters()).device
        self.model_.eval()

        def logits_of(x: torch.Tensor) -> torch.Tensor:  # channels-last input: the same codes, faster on CPU
            code = self._code(self._shape_in(x.contiguous(memory_format=CHANNELS_LAST)))[0]
            return self.model_.orientation_head(code)

        transforms = transform_set(self.transforms)
        for start in range(0, len(images), ENCODE_BATCH):  # transformed as images, then shaped for the network
            x = self._standardise(self._unit(images[start : start + ENCODE_BATCH], device))
            out[start : start + len(x)] = orientation_surprise(logits_of, x, self.mirrored_, transforms).cpu().numpy()
        return out

    @torch.no_grad()
    def reconstruct(self, images: Any) -> np.ndarray:
        """The network's reconstruction of ``images``, as ``(n, 32, 32, 3)`` uint8."""
        self.check_fitted()
        images = as_batch(images)
        out = np.empty((len(images), 32, 32, 3), dtype=np.uint8)
        for rows, _, code in self._passes(images):
            out[rows] = self._to_pixels(self.model_.decoder(code))
        return out

    @torch.no_grad()
    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Decoder outputs of real-valued ``codes`` (as ``encode`` gives them), ``(n, 32, 32, 3)`` uint8."""
        self.check_fitted()
        device = next(self.model_.parameters()).device
        z = torch.from_numpy(np.asarray(codes, dtype=np.float32) + self.code_mean_).to(device)
        return self._to_pixels(self.model_.decoder(z))

    def _to_pixels(self, recon: torch.Tensor) -> np.ndarray:
        device = recon.device
        recon = recon.view(-1, 3, 32, 32)
        mean = torch.from_numpy(self.mean_).to(device).view(1, 3, 1, 1)
        std = torch.from_numpy(self.std_).to(device).view(1, 3, 1, 1)
        pixels = ((recon * std + mean).clamp(0, 1) * 255).round().byte()
        return pixels.permute(0, 2, 3, 1).cpu().numpy()

    def _get_state(self) -> dict[str, Any]:  # mirrored: what the orientation score turns
        parts = {**part_state(self.part_), **graph_state(self.graph_)}
        return {**super()._get_state(), "mirrored": self.mirrored_, **parts}

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {**model_arrays(self.model_), "mean": self.mean_, "std": self.std_, "code_mean": self.code_mean_,
                **self._rotation_arrays(), **part_arrays(self.part_), **graph_arrays(self.graph_)}  # fmt: skip

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.mean_, self.std_, self.code_mean_ = arrays["mean"], arrays["std"], arrays["code_mean"]
        self.mirrored_ = bool(state.get("mirrored", False))
        self.part_, self.graph_ = load_part(state, arrays), load_graph(state, arrays)
        self._set_rotation(arrays)
        self.model_ = load_model_arrays(self._build_all(), arrays, resolve_device(self.device))
        super()._set_arrays(state, arrays)


@register
class ConvImageAutoencoder(ImageAutoencoder):
    """Convolutional autoencoder; ``channels`` sets the width of each down-sampling stage."""

    name: ClassVar[str] = "conv-ae"
    config_class: ClassVar[type] = ConvAeConfig

    @classmethod
    def saved_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Encoders saved before batch norm became the default had none."""
        config = super().saved_config(config)
        if isinstance(config, dict) and "norm" not in config:
            return {**config, "norm": False}
        return config

    def describe(self) -> str:
        size = f"dim={self._units()}{binary_note(self)}" if self.bits else f"dim={self.dim}"
        if self._layer_bits():
            size = f"bits={self.bits}"
        channels = self.channels or getattr(self, "channels_", None)
        width = "-".join(map(str, channels)) if channels else "by fit-set size"
        return f"conv-ae(channels={width}, {'batch norm, ' if self.norm else ''}{size})"

    def _choose_width(self, n_images: int) -> dict[str, str]:
        self.channels_, why = (tuple(self.channels), "") if self.channels else conv_channels(n_images)
        return {"channels": why} if why else {}

    def _build(self) -> nn.Module:
        return ConvAutoencoder(self._units(), self.channels_, binary=self._layer_bits(), norm=self.norm)

    def _get_state(self) -> dict[str, Any]:
        return {**super()._get_state(), "channels": list(self.channels_)}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.channels_ = tuple(self.channels or state["channels"])
        super()._set_arrays(state, arrays)


@register
class DenseImageAutoencoder(HiddenLayers, ImageAutoencoder):
    """Dense autoencoder on the 3,072 pixels; ``hidden="krizhevsky2011"`` is the paper's preset."""

    name: ClassVar[str] = "dense-ae"
    config_class: ClassVar[type] = DenseAeConfig
    hidden_presets: ClassVar[dict[str, tuple[int, ...]]] = {"krizhevsky2011": KRIZHEVSKY_2011}

    def describe(self) -> str:
        sizes = "-".join(str(s) for s in (PIXELS, *self.hidden_layers(), self._units()))
        return f"dense-ae({sizes}{binary_note(self)})"

    def _build(self) -> nn.Module:
        return DenseAutoencoder(
            PIXELS,
            self.hidden_layers(),
            self._units(),
            code_activation="binary" if self._layer_bits() else "none",
            tied=self.tied,
        )

    def _shape_in(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), -1)
