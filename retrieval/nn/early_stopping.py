"""Early stopping on a held-out slice of the fit sample: label-free, by the training objective on unseen items.

A seeded slice of the fit items (``held_out_split``) is kept out of training. ``train`` calls
``EarlyStopping.update`` every ``every`` epochs (about ``CHECKS`` times a run); when the slice's loss has not fallen
by ``min_delta`` (relative) for ``patience`` checks in a row, training stops and the weights of the best check come
back. The loss is computed with a fixed seed each time (the same noise, the same views), so two checks differ only
by what the network learnt in between.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

HELD_OUT_FRACTION = 0.1
HELD_OUT_MAX = 1000
MIN_FIT_ITEMS = 200  # below this a slice is too small to say anything: every item trains
CHECKS = 50  # held-out checks in a full run, at most
PATIENCE = 5
MIN_DELTA = 1e-3


def held_out_split(n_items: int, seed: int = 0, enabled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held_out)`` item positions: a seeded ``HELD_OUT_FRACTION`` (at most ``HELD_OUT_MAX``) held out,
    none when not ``enabled`` or when there are fewer than ``MIN_FIT_ITEMS`` items. Both sorted."""
    if not enabled or n_items < MIN_FIT_ITEMS:
        return np.arange(n_items), np.arange(0)
    size = min(HELD_OUT_MAX, max(1, round(n_items * HELD_OUT_FRACTION)))
    order = np.random.default_rng(seed + 7919).permutation(n_items)
    return np.sort(order[size:]), np.sort(order[:size])


def seeded(loss: Callable[[], float], seed: int) -> Callable[[], float]:
    """``loss`` run under torch's global generator reseeded to ``seed`` on each call (the same dropout masks every
    time), leaving the training run's own random stream where it was."""

    def run() -> float:
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)  # the CPU's only: a GPU's stream is not forked here
            return loss()

    return run


@dataclass
class EarlyStopping:
    """Watches ``held_out_loss`` (a label-free objective on items that do not train) between epochs."""

    held_out_loss: Callable[[], float]
    patience: int = PATIENCE
    min_delta: float = MIN_DELTA
    losses: list[float] = field(default_factory=list)
    checked: list[int] = field(default_factory=list)  # the epoch (1-based) of each check
    best_check: int = -1
    stopped: bool = False
    every: int = 1  # epochs between checks; ``train`` sets it from the run's length
    _best_loss: float = math.inf
    _since: int = 0
    _best_state: dict[str, Any] | None = None

    def plan(self, epochs: int) -> None:
        """Spread the checks over a run of ``epochs``: at most ``CHECKS`` of them."""
        self.every = max(1, math.ceil(epochs / CHECKS))

    def update(self, model: torch.nn.Module, epoch: int) -> bool:
        """Score the held-out slice after ``epoch`` (1-based; model in eval mode, no gradients); ``True`` when
        training should stop."""
        was_training = model.training
        model.eval()
        with torch.no_grad():
            loss = float(self.held_out_loss())
        model.train(was_training)
        self.losses.append(loss)
        self.checked.append(epoch)
        if loss < self._best_loss:
            improved = loss < self._best_loss * (1 - self.min_delta) if math.isfinite(self._best_loss) else True
            self._best_loss, self.best_check = loss, len(self.losses) - 1
            self._best_state = copy.deepcopy(model.state_dict())
            self._since = 0 if improved else self._since + 1
        else:
            self._since += 1
        self.stopped = self._since >= self.patience
        return self.stopped

    def restore(self, model: torch.nn.Module) -> None:
        """Put back the weights of the best check (a no-op before any check)."""
        if self._best_state is not None:
            model.load_state_dict(self._best_state)

    def summary(self, steps_per_epoch: int) -> str:
        """What happened, for ``aer info``."""
        best_epoch, epochs_run = self.checked[self.best_check], self.checked[-1]
        if not self.stopped:
            return (f"ran the whole budget ({epochs_run} epochs, held-out loss checked {len(self.losses)}×); "
                    f"weights of epoch {best_epoch} ({best_epoch * steps_per_epoch:,} steps), the best check, kept")  # fmt: skip
        return (f"stopped after epoch {epochs_run} ({epochs_run * steps_per_epoch:,} steps): the held-out loss had "
                f"not fallen by {self.min_delta:.1%} for {self.patience} checks; weights of epoch {best_epoch} kept")


def held_out_mean(batch_loss: Callable[[np.ndarray], torch.Tensor], held: np.ndarray, batch_size: int) -> float:
    """Mean of ``batch_loss`` over ``held`` in training-sized batches, weighted by batch length."""
    total = 0.0
    for start in range(0, len(held), batch_size):
        idx = held[start : start + batch_size]
        total += float(batch_loss(idx)) * len(idx)
    return total / max(1, len(held))


def stopping_note(stopper: EarlyStopping | None, asked: bool, epochs: int | None, steps_per_epoch: int) -> str:
    """``aer info``'s line on early stopping: what it did, or why it was off."""
    if epochs:
        return "off: --epochs is exact"
    if not asked:
        return "off (early_stop=false)"
    if stopper is None:
        return f"off: under {MIN_FIT_ITEMS} fit items, every item trains"
    return stopper.summary(steps_per_epoch)
