"""Torch building blocks: the networks and the training loop."""
