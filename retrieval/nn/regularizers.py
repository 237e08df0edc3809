"""Penalties that make an autoencoder's code behave (the lecture notes' variants).

- sparse: L1 on the code (needed when the code is wider than the input, or it can copy the input);
- code L2: keeps codes near 0, so the decoder can be sampled from a simple region;
- contractive (Rifai et al. 2011): the squared Frobenius norm of the encoder's Jacobian, so the code
  changes little when the input moves off the data. For deep encoders the norm is estimated with
  random projections (Hutchinson): for ``v ~ N(0, I)`` in code space, ``E ||J^T v||^2 = ||J||_F^2``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def code_penalty(code: torch.Tensor, sparse: float = 0.0, code_l2: float = 0.0) -> torch.Tensor:
    """``sparse * mean |code| + code_l2 * mean code^2`` (per unit, averaged over the batch)."""
    penalty = code.new_zeros(())
    if sparse:
        penalty = penalty + sparse * code.abs().mean()
    if code_l2:
        penalty = penalty + code_l2 * code.pow(2).mean()
    return penalty


def contractive_penalty(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """One-sample estimate of ``mean over the batch of ||d code / d x||_F^2``, differentiable."""
    x = x.detach().requires_grad_(True)
    code = encode(x)
    v = torch.randn_like(code)
    (grad,) = torch.autograd.grad((code * v).sum(), x, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()
