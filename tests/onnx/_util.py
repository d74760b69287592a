"""Helpers of the ONNX import tests: export a PyTorch module with the legacy (TorchScript)
exporter to bytes, and compare ember's outputs with PyTorch's / onnxruntime's."""
import io
import warnings

import numpy as np


def export_torch(torch, model, args, opset=17, dynamic_batch=True, input_names=None,
                 output_names=None, **kw):
    """Bytes of ``torch.onnx.export(model, args, dynamo=False)`` (the legacy exporter), with
    dim 0 of every input and output dynamic when ``dynamic_batch``."""
    args = args if isinstance(args, tuple) else (args,)
    input_names = input_names or [f"in{i}" for i in range(len(args))]
    dyn = None
    if dynamic_batch:
        dyn = {name: {0: "batch"} for name in input_names}
        for name in output_names or []:
            dyn[name] = {0: "batch"}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, buf, dynamo=False, opset_version=opset,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dyn, **kw)
    return buf.getvalue()


def as_numpy(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def assert_close(ember_out, ref, atol=1e-5, rtol=1e-5):
    a, b = as_numpy(ember_out), as_numpy(ref)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol)


def run_ort(model_bytes, *inputs):
    """onnxruntime's outputs for the graph inputs in order."""
    import onnxruntime as ort
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, {n: np.asarray(x) for n, x in zip(names, inputs)})
