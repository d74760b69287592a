"""FlopCounterMode: 2*M*N*K per matmul, the textbook count per conv, per module and op, backward,
and the same totals as PyTorch's FlopCounterMode on the same model."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.ops import MatMul
from ember.ops.nn_conv import Conv2d
from ember.ops.nn_layers import Linear
from ember.utils.flop_counter import FlopCounterMode, register_flop_formula

R = np.random.default_rng(0)


def t(*shape, grad=False):
    return ember.tensor(R.standard_normal(shape).astype(np.float32), requires_grad=grad)


@pytest.mark.parametrize("a,b,expected", [
    ((3, 4), (4, 5), 2 * 3 * 5 * 4),
    ((2, 3, 4), (2, 4, 5), 2 * 2 * 3 * 5 * 4),
    ((6, 3, 4), (4, 7), 2 * 6 * 3 * 7 * 4),
    ((4,), (4, 5), 2 * 5 * 4),
    ((4,), (4,), 2 * 4),
])
def test_matmul_is_2mnk(a, b, expected):
    with FlopCounterMode(display=False) as fc:
        t(*a) @ t(*b)
    assert fc.get_total_flops() == expected
    assert fc.get_flop_counts()["Global"] == {MatMul: expected}


def test_linear_and_conv_textbook_counts_per_module():
    model = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), nn.ReLU(),
                          nn.Flatten(), nn.Linear(6 * 5 * 5, 7))
    x = t(3, 4, 10, 10)
    with FlopCounterMode(display=False) as fc:
        model(x)
    conv = 2 * 3 * 6 * 5 * 5 * (4 // 2) * 3 * 3      # 2 N Cout Hout Wout Cin/g kh kw
    lin = 2 * 3 * 150 * 7                             # 2 M N K
    counts = fc.get_flop_counts()
    assert counts["Global"] == {Conv2d: conv, Linear: lin}
    assert counts["Sequential"] == {Conv2d: conv, Linear: lin}
    assert counts["Sequential.0"] == {Conv2d: conv} and counts["Sequential.3"] == {Linear: lin}
    assert fc.get_total_flops() == conv + lin


def test_backward_counts_one_product_per_gradient(capsys):
    w = t(5, 3, grad=True)
    x = t(4, 5)
    with FlopCounterMode() as fc:
        (x @ w).sum().backward()                    # only dW: one more product
    assert fc.get_total_flops() == 2 * (2 * 4 * 3 * 5)
    assert "MatMul" in capsys.readouterr().out      # display=True prints the table


def test_user_formula_and_other_ops_count_zero():
    from ember.ops import Exp
    with FlopCounterMode(display=False) as fc:
        t(3, 3).exp()
    assert fc.get_total_flops() == 0
    register_flop_formula(Exp)(lambda shapes, attrs, out: int(np.prod(out)))
    try:
        with FlopCounterMode(display=False) as fc:
            t(3, 3).exp()
        assert fc.get_total_flops() == 9
    finally:
        from ember.utils import flop_counter
        del flop_counter._FORMULAS[Exp]


def test_summary_prints_flops_per_layer():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 30 * 30, 10))
    lines = []
    info = ember.summary(model, (3, 32, 32), print_fn=lines.append)
    assert [r["flops"] for r in info.layers] == [2 * 8 * 30 * 30 * 3 * 9, 0, 0, 2 * 7200 * 10]
    assert info.total_flops == 388800 + 144000 and "388,800" in lines[0]


def test_same_totals_as_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode as TorchFC
    em = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                       nn.Linear(4 * 8 * 8, 10))
    tm = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                             torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 10))
    x = R.standard_normal((2, 3, 8, 8)).astype(np.float32)
    with FlopCounterMode(display=False) as fc:
        em(ember.tensor(x)).sum().backward()
    with TorchFC(display=False) as tfc:
        tm(torch.tensor(x)).sum().backward()
    assert fc.get_total_flops() == tfc.get_total_flops()
