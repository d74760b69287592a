"""The dispatch point: modes see every primitive call, nest innermost-first, are off while they
run, are per thread, and leave eager results and gradients unchanged."""
import threading

import numpy as np
import pytest

import ember
from ember.dispatch import DispatchMode, RecordingMode, current_modes
from ember.ops import Add, Mul, Relu


class Log(DispatchMode):
    def __init__(self, name, log):
        self.name, self.log = name, log

    def __ember_dispatch__(self, op, inputs, attrs):
        self.log.append((self.name, op.__name__, current_modes()))
        return op.apply(*inputs, **attrs)


def test_innermost_mode_first_and_off_while_it_runs():
    log = []
    a, b = Log("a", log), Log("b", log)
    x = ember.tensor([1.0, -2.0])
    with a:
        with b:
            assert current_modes() == (a, b)
            y = x.relu()
    assert log == [("b", "Relu", (a,)), ("a", "Relu", ())]   # each mode off while it runs
    np.testing.assert_array_equal(y.data, [1.0, 0.0])
    assert current_modes() == ()


def test_mode_can_replace_the_result():
    class Double(DispatchMode):
        def __ember_dispatch__(self, op, inputs, attrs):
            out = op.apply(*inputs, **attrs)
            return Mul.apply(out, 2.0) if op is Add else out

    x = ember.tensor([1.0, 2.0])
    with Double():
        y = x + x          # Add replaced by (x + x) * 2; the Mul inside is not doubled again
    np.testing.assert_array_equal(y.data, [4.0, 8.0])


def test_recording_mode_records_calls_and_keeps_gradients():
    x = ember.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    w = ember.tensor([[0.5, 1.0], [-1.0, 2.0]], requires_grad=True)
    with RecordingMode() as rec:
        loss = ((x @ w).relu() * 3).sum()
    assert [c[0].__name__ for c in rec.calls] == ["MatMul", "Relu", "Mul", "Sum"]
    op, inputs, attrs, out = rec.calls[0]
    assert inputs[0] is x and inputs[1] is w and attrs == {}
    assert rec.calls[1][1][0] is out          # the trace links outputs to inputs
    assert rec.calls[3][2] == {"axis": None, "keepdims": False}
    loss.backward()
    g_rec = x.grad.data.copy()
    x.grad = None
    ((x @ w).relu() * 3).sum().backward()     # same gradients as without the mode
    np.testing.assert_array_equal(x.grad.data, g_rec)


def test_exit_on_exception_and_reentry():
    m = RecordingMode()
    with pytest.raises(RuntimeError):
        with m:
            raise RuntimeError
    assert current_modes() == ()
    with m:
        ember.tensor([1.0]) + 1
    with m:
        ember.tensor([1.0]) * 1
    assert [c[0] for c in m.calls] == [Add, Mul]


def test_modes_are_per_thread():
    seen = []
    other = []

    def work():
        other.append(current_modes())
        ember.tensor([1.0]).relu()         # runs eagerly: the mode is the main thread's

    with RecordingMode() as rec:
        t = threading.Thread(target=work)
        t.start()
        t.join()
        seen.append(Relu.apply(ember.tensor([2.0])))
    assert other == [()]
    assert [c[0] for c in rec.calls] == [Relu]


def test_function_apply_is_the_dispatcher():
    from ember.autograd.function import Function
    assert Function.apply.__func__ is ember.dispatch.apply
