"""Saving and logging: pickle-free checkpoints and TensorBoard event files."""

from ember.io.checkpoint import CheckpointError, load, load_safetensors, save
from ember.io.tensorboard import SummaryWriter

__all__ = ["save", "load", "load_safetensors", "CheckpointError", "SummaryWriter"]
