"""Parameter: a Tensor that a Module registers as learnable (requires_grad=True by default)."""
import numpy as np

from ..tensor import Tensor, _to_array


class Parameter(Tensor):
    """A tensor that is a module's learnable weight. Assigning one to a Module attribute
    registers it, so it appears in ``parameters()`` and ``state_dict()``.

    ``Parameter(tensor_or_array, requires_grad=True)`` shares memory with a Tensor or ndarray.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), np.float32)
        arr = data.data if isinstance(data, Tensor) else _to_array(data)
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto):
        return (Parameter, (self.data, self.requires_grad))
