"""``backward()`` without a gradient starts from a 1 of the loss's dtype. That array can end up
where users write to it: a leaf's ``.grad`` (through an identity rule such as ``clone``) and a
tensor hook's argument. Each backward must hand out an array of its own, writeable; and a 0-d
leaf's ``.grad`` is a 0-d array (rules' ufuncs on 0-d arrays give NumPy scalars, which
in-place code such as ``clip_grad_norm_`` cannot change)."""
import numpy as np
import pytest

import ember


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_leaf_grad_reached_through_clone_is_writeable_and_its_own(dtype):
    x = ember.tensor(np.array(2.0, dtype), requires_grad=True)
    x.clone().backward()
    assert x.grad.data.flags.writeable
    x.grad.data[...] = 7  # in place, as zero_grad(set_to_none=False) and clipping do
    y = ember.tensor(np.array(3.0, dtype), requires_grad=True)
    y.clone().backward()  # a later backward must not see the first one's edit
    assert y.grad.data == 1 and y.grad.data.dtype == dtype
    assert x.grad.data == 7


def test_zero_grad_and_clipping_work_in_place_on_such_a_grad():
    p = ember.nn.Parameter(ember.tensor(np.float32(1.5)).data)
    opt = ember.optim.SGD([p], lr=0.1)
    p.clone().backward()
    ember.nn.utils.clip_grad_norm_([p], 0.5)  # scales in place by 0.5 / (1 + 1e-6), as PyTorch
    assert p.grad.data.__class__ is np.ndarray
    np.testing.assert_allclose(p.grad.data, 0.5, rtol=1e-5)
    opt.zero_grad(set_to_none=False)
    assert p.grad.data == 0
    p.clone().backward()  # accumulates into the zeroed array
    assert p.grad.data == 1


def test_a_hook_on_the_loss_may_edit_its_gradient_in_place():
    w = ember.tensor(np.float32(3.0), requires_grad=True)
    loss = w * 2

    def scale(g):
        g.data *= 10  # PyTorch allows this on the incoming gradient
    loss.register_hook(scale)
    loss.backward()
    assert w.grad.data == np.float32(20.0)
    loss2 = w * 2
    loss2.backward()  # the cached 1 was not changed by the hook
    assert w.grad.data == np.float32(22.0)


def test_hooks_on_0d_tensors_get_arrays_they_can_edit_in_place():
    # the rule of `w * 3` gives w's gradient as a NumPy scalar (a ufunc on 0-d arrays): the
    # hooks must still see an array, or their in-place edit would be lost without a word
    w = ember.tensor(np.float32(2.0), requires_grad=True)
    mid = w * 1
    seen = []

    def double(g):
        assert g.data.__class__ is np.ndarray
        g.data *= 2
        seen.append(float(g.data))
    mid.register_hook(double)  # a non-leaf's hook
    w.register_hook(double)    # a leaf's hook
    (mid * 3).backward()
    assert seen == [6.0, 12.0]
    assert w.grad.data == np.float32(12.0)
