"""Shared checks for the ONNX export tests: export, onnx.checker, onnxruntime vs ember."""
import io

import numpy as np
import pytest

import ember

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def flat(out):
    if isinstance(out, ember.Tensor):
        return [out.data]
    if isinstance(out, np.ndarray):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in flat(o)]
    return []


def session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def export_and_compare(model, args, run_args=None, atol=1e-5, **kw):
    """Export ``model(*args)``, check the file, run it in onnxruntime on ``run_args`` (default
    ``args``) and compare with ember in eval mode; returns the ModelProto."""
    buf = io.BytesIO()
    proto = ember.onnx.export(model, args, buf, **kw)
    onnx.checker.check_model(onnx.load_from_string(buf.getvalue()), full_check=True)
    run_args = args if run_args is None else run_args
    run_args = run_args if isinstance(run_args, tuple) else (run_args,)
    sess = session(proto)
    feeds = {i.name: a for i, a in zip(sess.get_inputs(), flat(run_args))}
    assert len(feeds) == len(sess.get_inputs())
    got = sess.run(None, feeds)
    was = model.training
    model.eval()
    with ember.no_grad():
        want = flat(model(*[ember.tensor(a) if isinstance(a, np.ndarray) else a
                             for a in run_args]))
    model.train(was)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=atol)
    return proto


def op_types(proto):
    return [n.op_type for n in proto.graph.node]
