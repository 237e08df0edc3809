"""One training loop for every autoencoder: seeded, shuffled minibatches, Adam, one-cycle schedule, a progress bar."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ..progress import bar as progress_bar
from .early_stopping import EarlyStopping


def seed_everything(seed: int) -> None:
    """Fix torch's and numpy's generators so a training run is reproducible."""
    torch.manual_seed(seed)
    np.random.seed(seed)


def adamw(params, *, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW, fused where torch has the fused kernel for the parameters' device (on 2 CPU cores about 10x faster
    per step than the per-tensor loop over a 15M-parameter text autoencoder)."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):  # an older torch, or a device without the fused kernel
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def train(
    model: torch.nn.Module,
    n_items: int,
    batch_loss: Callable[[np.ndarray], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float = 0.0,
    warmup: float = 0.1,
    min_steps: int = 0,
    max_steps: int | None = None,
    seed: int = 0,
    progress: bool = True,
    desc: str = "training",
    early_stop: EarlyStopping | None = None,
) -> list[float]:
    """Minimise ``batch_loss(indices)`` over shuffled minibatches of ``range(n_items)``.

    The learning rate follows a one-cycle schedule: it warms up to ``lr`` over the first
    ``warmup`` fraction of the steps, then decays along a cosine. Small data sets train for more
    epochs than asked, up to ``min_steps`` optimiser steps; with ``max_steps``, large ones train fewer (whole
    epochs, at least one) so that no more steps than that are taken. With ``early_stop``, training ends when its held-out
    loss stops falling and the best checked weights come back. Return each epoch's mean loss.
    """
    rng = np.random.default_rng(seed)
    opt = adamw(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = max(1, math.ceil(n_items / batch_size))
    epochs = max(epochs, math.ceil(min_steps / steps_per_epoch))
    if max_steps is not None:
        epochs = max(1, min(epochs, max_steps // steps_per_epoch))
    total = epochs * steps_per_epoch
    # torch's OneCycleLR divides by zero when the warm-up is exactly one step: make it two (no other case changes)
    pct_start = 2 / total if warmup * total == 1 else warmup
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=pct_start)
    history: list[float] = []
    model.train()
    if early_stop is not None:
        early_stop.plan(epochs)
    bar = progress_bar(range(epochs), desc=desc, unit="epoch", enabled=progress)
    for epoch in bar:
        order = rng.permutation(n_items)
        total = 0.0
        for start in range(0, n_items, batch_size):
            loss = batch_loss(order[start : start + batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        history.append(total / steps_per_epoch)
        bar.set_postfix(loss=f"{history[-1]:.4f}")
        last = epoch == epochs - 1
        if early_stop is not None and ((epoch + 1) % early_stop.every == 0 or last):
            if early_stop.update(model, epoch + 1) or last:
                early_stop.restore(model)
                break
    model.eval()
    return history
