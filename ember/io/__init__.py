"""Saving and logging: pickle-free checkpoints and TensorBoard event files."""

from ember.io.checkpoint import CheckpointError, load, load_safetensors, save

__all__ = ["save", "load", "load_safetensors", "CheckpointError"]
