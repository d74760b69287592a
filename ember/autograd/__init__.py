"""Reverse-mode automatic differentiation: grad mode, the backward walk, grad(), gradcheck."""
from .._lazy import lazy as _lazy
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
# eager: the function shadows its module's name (lazily, `import ember.autograd.gradcheck`
# before the first `ember.autograd.gradcheck` would leave the module there)
from .gradcheck import GradcheckError, gradcheck

# grad() and the backward walk load on first use (Tensor.backward binds the engine then too)
# and so does the primitive base class (ember.ops.function.Function, re-exported here)
__getattr__, __dir__ = _lazy(__name__, globals(), {
    "grad": ".functional:grad", "functional": ".functional", "engine": ".engine",
    "Function": "..ops.function:Function", "function": ".function"})
