"""Reverse-mode automatic differentiation: grad mode, the backward walk, grad(), gradcheck."""
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .function import Function
from .functional import grad
from .gradcheck import GradcheckError, gradcheck
