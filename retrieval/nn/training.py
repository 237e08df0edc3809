"""One training loop for every autoencoder: seeded, shuffled minibatches, Adam, cosine decay, a progress bar."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm


def seed_everything(seed: int) -> None:
    """Fix torch's and numpy's generators so a training run is reproducible."""
    torch.manual_seed(seed)
    np.random.seed(seed)


def train(
    model: torch.nn.Module,
    n_items: int,
    batch_loss: Callable[[np.ndarray], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool = True,
    desc: str = "training",
) -> list[float]:
    """Minimise ``batch_loss(indices)`` over shuffled minibatches of ``range(n_items)``.

    The learning rate follows a cosine from ``lr`` to 0 over all steps. Return the mean loss
    of each epoch.
    """
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = max(1, math.ceil(n_items / batch_size))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    history: list[float] = []
    model.train()
    bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress, leave=False)
    for _ in bar:
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
    model.eval()
    return history
