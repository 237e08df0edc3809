"""How much the text autoencoder's fit reads and trains, chosen from the corpus so that its cost is bounded.

Three quantities set a fit's cost on a CPU: the vocabulary (both large layers are a row per word), the teacher's
document sample (all-MiniLM-L6-v2 reads about 12 posts a second on 2 cores) and the optimiser steps. Each is
chosen here from the fit texts alone, never from a clock, so a fit is reproducible on any machine:

- **vocabulary**: the ``vocab_size`` most frequent words, and from ``MIN_DF_TEXTS`` texts on only words that occur
  in at least two texts (a word seen once pairs with nothing: it is noise to the codes and cost to the fit);
- **teacher sample**: every fit text up to ``teacher_docs`` (2,000 by default), a seeded sample beyond. What the
  student learns from the teacher stops at the texts the teacher read: on 400 of 1,000 20 Newsgroups posts P@10
  fell from 0.489 to 0.370, and a ridge map from word vectors to the teacher's space for the other 700 recovered
  only part of it (0.409); truncating texts to 128 tokens (0.407) and reading 48 keywords (0.381) cost as much.
  So on small corpora the teacher's reading is most of the fit, and the fit costs about what MiniLM's encoding
  of the same texts costs;
- **steps**: ``DEFAULT_EPOCHS`` epochs, at least ``MIN_STEPS`` optimiser steps on small corpora (on fewer texts
  than that, one step per text and at least ``FEWEST_STEPS``: on 300 posts 300 steps kept P@100 and cost 0.03
  P@10 against 1,000, at a third of the training time), and at most
  ``STEP_WORK`` divided by the network's input width on large ones (a step costs about the input width times the
  first layer; the bound keeps the training stage near a fixed time whatever the corpus size). The last epoch
  is not cut: the one-cycle schedule ends where it should. The bound sits above the whole 20 Newsgroups train
  split's 30 epochs: capping it at a third of that cost 0.10 P@10 there.

``aer info`` shows the budget chosen and why (the encoder's ``training`` record).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_EPOCHS = 30
MIN_STEPS = {True: 1000, False: 2000}  # step floor on small corpora: with a teacher / without
FEWEST_STEPS = 300  # under MIN_STEPS texts, the floor is one step per text, and at least this
STEP_WORK = 30_000_000  # steps × input width at most (10,384-wide input: 2,889 steps)
MIN_DF_TEXTS = 100  # from this many fit texts, vocabulary words must occur in two texts


@dataclass(frozen=True)
class StepBudget:
    """The training stage's length."""

    epochs: int
    steps: int
    note: str


def min_df(n_texts: int) -> int:
    """The fewest texts a vocabulary word must occur in."""
    return 2 if n_texts >= MIN_DF_TEXTS else 1


def teacher_sample(n_texts: int, cap: int) -> int:
    """How many fit texts the teacher embeds: all of them up to ``cap``."""
    return min(n_texts, cap)


def steps(n_rows: int, batch_size: int, in_width: int, taught: bool, epochs: int | None,
          min_steps: int | None) -> StepBudget:  # fmt: skip
    """The epochs to train ``n_rows`` texts for: ``epochs`` exactly when given, else the default bounded as the
    module docstring says (``min_steps``: another floor)."""
    per_epoch = max(1, math.ceil(n_rows / batch_size))
    if epochs:
        return StepBudget(epochs, epochs * per_epoch, "as asked (epochs)")
    floor = min_steps if min_steps is not None else min(MIN_STEPS[taught], max(FEWEST_STEPS, n_rows))
    cap = max(1, STEP_WORK // max(in_width, 1))
    wanted = max(DEFAULT_EPOCHS * per_epoch, floor)
    if wanted <= cap:
        why = (f"{DEFAULT_EPOCHS} epochs" if wanted == DEFAULT_EPOCHS * per_epoch
               else f"at least {floor:,} optimiser steps (a small corpus)")  # fmt: skip
        n_epochs = math.ceil(wanted / per_epoch)
    else:
        n_epochs = max(1, cap // per_epoch)
        why = f"at most {cap:,} optimiser steps ({STEP_WORK:,} / {in_width:,} input width: a bounded fit)"
    return StepBudget(n_epochs, n_epochs * per_epoch, f"{n_epochs} epochs of {n_rows:,} texts: {why}")


def vocabulary_note(words: int, vocab_size: int, min_df: int = 1) -> str:
    """What ``aer info`` says of the vocabulary: the cap, or that the fit texts have fewer words than it."""
    which = "every word" if min_df == 1 else f"every word in at least {min_df} texts"
    if words < vocab_size:
        return f"{words:,} words: {which} of the fit texts (they have fewer than vocab_size={vocab_size:,})"
    floor = "" if min_df == 1 else f"; words in at least {min_df} texts"
    return f"{words:,} words: the most frequent of the fit texts (vocab_size={vocab_size:,}{floor})"
