"""Reading TensorBoard event files back with the tensorboard package's own reader."""
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def read_events(path):
    """Every event under ``path`` (a run folder), nothing sampled away."""
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0,
                                                      "images": 0, "tensors": 0})
    acc.Reload()
    return acc
