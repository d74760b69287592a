"""SummaryWriter.add_graph(model, example_input): the eager model's graph in an event file, read
back with TensorBoard's event reader, layers as name scopes."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.graph.trace import trace_module
from ember.io import SummaryWriter


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 8), nn.Tanh())
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.features(x) * 2.0)


def test_trace_names_layers_as_scopes_and_keeps_shapes():
    g = trace_module(Net(), ember.randn(5, 4))
    by_name = {n.name: n for n in g.nodes}
    assert by_name["Net/input"].outputs[0].shape == (5, 4)
    assert by_name["Net/Sequential[features]/Linear[0]/weight"].kind == "variable"
    lin = by_name["Net/Sequential[features]/Linear[0]/Linear"]
    assert [v.node.name for v in lin.inputs] == ["Net/input",
                                                 "Net/Sequential[features]/Linear[0]/weight",
                                                 "Net/Sequential[features]/Linear[0]/bias"]
    assert by_name["Net/Sequential[features]/Tanh[1]/Tanh"].inputs[0].node is lin
    mul = by_name["Net/Mul"]  # work done in Net.forward itself belongs to Net
    assert mul.inputs[0].node.name == "Net/Sequential[features]/Tanh[1]/Tanh"
    assert by_name["Net/Linear[head]/Linear"].outputs[0].shape == (5, 3)


def test_add_graph_event_file_reads_back(tmp_path):
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    with SummaryWriter(tmp_path) as w:
        w.add_graph(Net(), ember.randn(2, 4))
        w.add_scalar("loss", 1.0, 0)
    ea = ea_mod.EventAccumulator(str(tmp_path))
    ea.Reload()
    gd = ea.Graph()
    nodes = {n.name: n for n in gd.node}
    assert nodes["Net/Linear[head]/Linear"].op == "Linear"
    assert list(nodes["Net/Linear[head]/Linear"].input)[0] == "Net/Mul"
    shape = nodes["Net/Linear[head]/Linear"].attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [2, 3]
    assert nodes["Net/input"].attr["dtype"].type == 1  # DT_FLOAT
    assert [e.value for e in ea.Scalars("loss")] == [1.0]


def test_add_graph_needs_an_example_input(tmp_path):
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="example input"):
            w.add_graph(Net())


def test_add_graph_of_a_graph_object(tmp_path):
    import ember.graph as eg
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    g = eg.Graph()
    with g.as_default():
        x = eg.placeholder(np.float32, (None, 2), name="x")
        with g.name_scope("block"):
            eg.apply(ember.ops.Relu, x)
    with SummaryWriter(tmp_path) as w:
        w.add_graph(g)
    ea = ea_mod.EventAccumulator(str(tmp_path))
    ea.Reload()
    assert [n.name for n in ea.Graph().node] == ["x", "block/Relu"]


def test_trace_records_every_primitive_under_no_grad_buffers_as_variables():
    m = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).eval()
    with ember.no_grad():
        g = trace_module(m, ember.randn(5, 4))
    names = {n.name: n for n in g.nodes}
    assert names["Sequential/BatchNorm1d[1]/running_mean"].kind == "variable"
    bn_ops = [n for n in g.nodes if n.kind == "fn" and n.name.startswith("Sequential/BatchNorm1d")]
    assert bn_ops and bn_ops[-1].outputs[0].shape == (5, 3)
