"""``summary(model, input_shape)``: a Keras/torchsummary-style table of a model's layers, their
output shapes, parameter counts and FLOPs, found by running one forward pass with forward hooks
under :class:`ember.utils.flop_counter.FlopCounterMode`."""
import numpy as np

from .autograd import no_grad
from .tensor import Tensor


class SummaryInfo(dict):
    """The numbers behind the printed table: ``layers`` (list of dicts with name, type,
    output_shape, params, trainable, flops), ``total_params``, ``trainable_params``,
    ``non_trainable_params``, ``total_flops``, ``text`` (the table). Also readable as
    attributes. FLOPs are per sample, forward only (FlopCounterMode's counts)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __str__(self):
        return self["text"]


def _shape_of(out, batch_size):
    if isinstance(out, Tensor):
        return [batch_size] + list(out.shape[1:])
    if isinstance(out, (tuple, list)):
        return [_shape_of(o, batch_size) for o in out]
    return []


def summary(model, input_shape, batch_size=-1, dtypes=None, print_fn=print):
    """Print a table of ``model``'s leaf layers for input(s) of ``input_shape`` (without the batch
    dim; a list of shapes for several inputs) and return a :class:`SummaryInfo`.

    Parameters are counted once per layer that owns them (shared parameters once in total);
    ``batch_size`` is only what the table shows (-1 = any). The forward pass runs in eval mode
    without a graph, on a batch of 2 zeros-mean random inputs, and leaves the model's mode and
    state as they were."""
    shapes = [input_shape] if not input_shape or isinstance(input_shape[0], int) else \
        list(input_shape)
    dtypes = dtypes or [np.float32] * len(shapes)
    rng = np.random.default_rng(0)
    inputs = [Tensor(rng.standard_normal((2,) + tuple(s)).astype(dt) if np.dtype(dt).kind == "f"
                     else np.zeros((2,) + tuple(s), dt)) for s, dt in zip(shapes, dtypes)]
    dev = next((p.device for p in model.parameters()), None)
    if dev is not None and dev.type != "cpu":  # the probe batch goes where the model is
        inputs = [t.to(dev) for t in inputs]

    rows, handles, counted = [], [], set()
    counters = {}
    from .utils.flop_counter import FlopCounterMode  # loads nn and the conv ops: on use
    fc = FlopCounterMode(display=False)
    starts = {}

    def pre_hook(module, inp):
        starts.setdefault(id(module), []).append(fc.get_total_flops())

    def hook(module, inp, out):
        cls = type(module).__name__
        counters[cls] = counters.get(cls, 0) + 1
        params = trainable = 0
        for p in module.parameters(recurse=False):
            if id(p) in counted:
                continue
            counted.add(id(p))
            params += p.data.size
            trainable += p.data.size if p.requires_grad else 0
        flops = (fc.get_total_flops() - starts[id(module)].pop()) // len(inputs[0])
        rows.append({"name": f"{cls}-{len(rows) + 1}", "type": cls,
                     "output_shape": _shape_of(out, batch_size), "params": params,
                     "trainable": trainable, "flops": flops})

    from .nn.module import ModuleDict, ModuleList, Sequential
    for m in model.modules():
        if isinstance(m, (Sequential, ModuleList, ModuleDict)) or \
                (m is model and any(True for _ in m.children())):
            continue
        handles.append(m.register_forward_pre_hook(pre_hook))
        handles.append(m.register_forward_hook(hook))
    modes = {id(m): m.training for m in model.modules()}
    model.eval()
    try:
        with no_grad(), fc:
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m in model.modules():
            m.__dict__["training"] = modes[id(m)]

    all_params = {id(p): p for p in model.parameters()}
    total = sum(p.data.size for p in all_params.values())
    trainable = sum(p.data.size for p in all_params.values() if p.requires_grad)
    flops = fc.get_total_flops() // len(inputs[0])
    line = "-" * 80
    out = [line, f"{'Layer (type)':>20}  {'Output Shape':>25} {'Param #':>15} {'FLOPs':>15}",
           "=" * 80]
    for r in rows:
        out.append(f"{r['name']:>20}  {str(r['output_shape']):>25} {r['params']:>15,} "
                   f"{r['flops']:>15,}")
    out += ["=" * 80, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            f"FLOPs per sample (forward, matmul/conv): {flops:,}", line]
    text = "\n".join(out)
    if print_fn is not None:
        print_fn(text)
    return SummaryInfo(layers=rows, total_params=total, trainable_params=trainable,
                       non_trainable_params=total - trainable, total_flops=flops, text=text)
