"""Primitive ops: forward rule + backward rule side by side. The only place derivatives live.

The op modules load on first use (PEP 562): ``ember.ops.Add`` imports ``ember.ops.elementwise``
then, and later accesses are a dict lookup, so ``import ember`` does not pay for every rule."""
from .._lazy import lazy as _lazy

_MODULES = ("device", "discrete", "elementwise", "function", "index", "linalg", "nn_activation",
            "nn_conv", "nn_layers", "nn_loss", "nn_rnn", "nn_sync_bn", "random", "reduce",
            "shape", "special")
_NAMES = {
    "elementwise": ("Abs", "Add", "Cast", "Clip", "Cos", "Div", "Exp", "Log", "Maximum", "Minimum",
                    "Mul", "Neg", "PiecewiseConstant", "Pow", "Relu", "Sigmoid", "Sin", "Sqrt",
                    "Sub", "Tanh", "Where", "unbroadcast"),
    "discrete": ("All", "Any", "ArgMax", "BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor",
                 "Equal", "FloorDivide", "Greater", "GreaterEqual", "IsFinite", "IsNan", "Less",
                 "LessEqual", "NotEqual", "OneHot", "Remainder"),
    "index": ("GetItem", "Slot", "normalize_index", "split_index"),
    "linalg": ("MatMul",),
    "reduce": ("Amax", "LogSumExp", "Mean", "Prod", "Std", "Sum", "TakeAlongAxis", "Var",
               "normalize_axis", "MinMaxResult"),
    "shape": ("Concatenate", "Expand", "Pad", "Permute", "Reshape", "Stack"),
}

__getattr__, __dir__ = _lazy(__name__, globals(), {
    **{m: "." + m for m in _MODULES},
    **{n: f".{m}:{n}" for m, names in _NAMES.items() for n in names},
})
