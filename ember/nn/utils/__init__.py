"""``ember.nn.utils``: gradient clipping, weight penalties, parameter <-> vector, and
``nn.utils.rnn`` (padding and packing of variable-length sequences)."""
from ..._lazy import lazy as _lazy
from .clip_grad import (clip_grad_norm_, clip_grad_value_, l1_penalty, l2_penalty,
                        parameters_to_vector, vector_to_parameters)

__all__ = ["rnn", "clip_grad_norm_", "clip_grad_value_", "l1_penalty", "l2_penalty",
           "parameters_to_vector", "vector_to_parameters"]

# padding/packing of sequences loads on first use (kept out of `import ember`)
__getattr__, __dir__ = _lazy(__name__, globals(), {"rnn": ".rnn"})
