"""Files ember writes decode with Google's protobuf as Caffe's messages, and the other way
round. The schema here is written in the test from Caffe's published field numbers
(caffe.proto), independent of ember.caffe.schema."""
import numpy as np
import pytest

pb = pytest.importorskip("google.protobuf", reason="needs protobuf (pip install -e .[test])")

from ember.caffe import Msg, Net, from_text, load_caffemodel, save_caffemodel  # noqa: E402
from ember.caffe.blob import decode_datum, encode_datum  # noqa: E402
from ember.caffe.snapshot import load_solverstate, save_solverstate  # noqa: E402

# (message, [(field, number, type, label, type_name, packed)])
_T = {"string": 9, "int32": 5, "int64": 3, "float": 2, "bool": 8, "bytes": 12, "message": 11,
      "enum": 14, "double": 1}
SCHEMA = {
    "BlobShape": [("dim", 1, "int64", "rep", None, True)],
    "BlobProto": [("shape", 7, "message", "opt", "BlobShape", False),
                  ("data", 5, "float", "rep", None, True),
                  ("num", 1, "int32", "opt", None, False),
                  ("channels", 2, "int32", "opt", None, False),
                  ("height", 3, "int32", "opt", None, False),
                  ("width", 4, "int32", "opt", None, False)],
    "ParamSpec": [("lr_mult", 3, "float", "opt", None, False),
                  ("decay_mult", 4, "float", "opt", None, False)],
    "ConvolutionParameter": [("num_output", 1, "int32", "opt", None, False),
                             ("kernel_size", 4, "int32", "rep", None, False)],
    "LayerParameter": [("name", 1, "string", "opt", None, False),
                       ("type", 2, "string", "opt", None, False),
                       ("bottom", 3, "string", "rep", None, False),
                       ("top", 4, "string", "rep", None, False),
                       ("param", 6, "message", "rep", "ParamSpec", False),
                       ("blobs", 7, "message", "rep", "BlobProto", False),
                       ("convolution_param", 106, "message", "opt", "ConvolutionParameter",
                        False)],
    "NetParameter": [("name", 1, "string", "opt", None, False),
                     ("layer", 100, "message", "rep", "LayerParameter", False)],
    "Datum": [("channels", 1, "int32", "opt", None, False),
              ("height", 2, "int32", "opt", None, False),
              ("width", 3, "int32", "opt", None, False),
              ("data", 4, "bytes", "opt", None, False),
              ("label", 5, "int32", "opt", None, False),
              ("float_data", 6, "float", "rep", None, False),
              ("encoded", 7, "bool", "opt", None, False)],
    "SolverState": [("iter", 1, "int32", "opt", None, False),
                    ("learned_net", 2, "string", "opt", None, False),
                    ("history", 3, "message", "rep", "BlobProto", False),
                    ("current_step", 4, "int32", "opt", None, False)],
}


@pytest.fixture(scope="module")
def caffe_pb():
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    fdp = descriptor_pb2.FileDescriptorProto(name="caffe_test.proto", package="caffe",
                                             syntax="proto2")
    for mname, fields in SCHEMA.items():
        m = fdp.message_type.add(name=mname)
        for name, number, kind, label, tname, packed in fields:
            f = m.field.add(name=name, number=number, type=_T[kind],
                            label=3 if label == "rep" else 1)
            if tname:
                f.type_name = f".caffe.{tname}"
            if packed:
                f.options.packed = True
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"caffe.{n}"))
            for n in SCHEMA}


NET = '''name: "tiny"
layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "c" param { lr_mult: 1 }
        param { lr_mult: 2 } convolution_param { num_output: 4 kernel_size: 3
        weight_filler { type: "gaussian" std: 0.1 } bias_filler { type: "uniform" } } }
layer { name: "ip" type: "InnerProduct" bottom: "c" top: "y" inner_product_param {
        num_output: 5 weight_filler { type: "xavier" } } }
'''


def test_caffemodel_decodes_as_caffe_netparameter(tmp_path, caffe_pb):
    net = Net(from_text(NET, "NetParameter"), "TEST")
    path = tmp_path / "tiny.caffemodel"
    save_caffemodel(path, net)
    proto = caffe_pb["NetParameter"]()
    proto.ParseFromString(path.read_bytes())
    assert proto.name == "tiny"
    assert [l.name for l in proto.layer] == ["in", "conv", "ip"]
    conv = proto.layer[1]
    assert conv.type == "Convolution" and list(conv.bottom) == ["data"] and list(conv.top) == ["c"]
    assert [p.lr_mult for p in conv.param] == [1.0, 2.0]
    cp = conv.convolution_param
    assert cp.num_output == 4 and list(cp.kernel_size) == [3]
    assert len(conv.blobs) == 2
    w = net.layer("conv").weight.data
    assert list(conv.blobs[0].shape.dim) == [4, 3, 3, 3]
    np.testing.assert_array_equal(np.array(conv.blobs[0].data, np.float32), w.reshape(-1))
    np.testing.assert_array_equal(np.array(conv.blobs[1].data, np.float32),
                                  net.layer("conv").bias.data)
    assert list(proto.layer[2].blobs[0].shape.dim) == [5, 4 * 4 * 4]


def test_caffemodel_written_by_protobuf_loads(tmp_path, caffe_pb):
    """A file as Caffe writes it (here by protobuf), with a legacy 4-D blob and extra layers."""
    net = Net(from_text(NET, "NetParameter"), "TEST")
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    ipw = rng.standard_normal((5, 64)).astype(np.float32)
    ipb = rng.standard_normal(5).astype(np.float32)
    P = caffe_pb["NetParameter"]()
    P.name = "from caffe"
    extra = P.layer.add(name="not_in_net", type="ReLU")
    extra.blobs.add().data.extend([1.0])
    conv = P.layer.add(name="conv", type="Convolution")
    conv.blobs.add(shape=caffe_pb["BlobShape"](dim=w.shape)).data.extend(w.ravel().tolist())
    conv.blobs.add(shape=caffe_pb["BlobShape"](dim=[4])).data.extend(b.tolist())
    ip = P.layer.add(name="ip", type="InnerProduct")
    ip.blobs.add(num=1, channels=1, height=5, width=64).data.extend(ipw.ravel().tolist())
    ip.blobs.add(num=1, channels=1, height=1, width=5).data.extend(ipb.tolist())
    path = tmp_path / "caffe.caffemodel"
    path.write_bytes(P.SerializeToString())
    copied = load_caffemodel(path, net)
    assert copied == ["conv", "ip"]
    np.testing.assert_array_equal(net.layer("conv").weight.data, w)
    np.testing.assert_array_equal(net.layer("ip").weight.data, ipw)
    np.testing.assert_array_equal(net.layer("ip").bias.data, ipb)
    # a blob of another shape is refused, naming the layer
    conv.blobs[1].shape.dim[:] = [2, 2]
    path.write_bytes(P.SerializeToString())
    from ember.caffe import CaffeError
    with pytest.raises(CaffeError, match="layer 'conv' blob 1 has shape"):
        load_caffemodel(path, net)


def test_datum_both_ways(caffe_pb):
    img = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    d = caffe_pb["Datum"]()
    d.ParseFromString(encode_datum(img, 7))
    assert (d.channels, d.height, d.width, d.label) == (2, 3, 4, 7)
    assert d.data == img.tobytes() and not d.encoded
    # float data (Caffe's float_data is not packed), written by protobuf, read by ember
    d2 = caffe_pb["Datum"](channels=1, height=2, width=2, label=-1,
                           float_data=[0.5, 1.5, -2.0, 3.0])
    arr, label = decode_datum(d2.SerializeToString())
    assert label == -1 and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, np.array([[[0.5, 1.5], [-2.0, 3.0]]], np.float32))


def test_encoded_datum_png(caffe_pb):
    PIL = pytest.importorskip("PIL.Image", reason="encoded Datum needs Pillow (ember[images])")
    import io
    rgb = np.random.default_rng(0).integers(0, 255, (5, 6, 3)).astype(np.uint8)
    buf = io.BytesIO()
    PIL.fromarray(rgb).save(buf, format="PNG")
    d = caffe_pb["Datum"](data=buf.getvalue(), label=3, encoded=True)
    arr, label = decode_datum(d.SerializeToString())
    assert label == 3 and arr.shape == (3, 5, 6)
    np.testing.assert_array_equal(arr, rgb[:, :, ::-1].transpose(2, 0, 1))  # BGR, as Caffe


def test_solverstate_decodes(tmp_path, caffe_pb):
    h = [np.ones((2, 3), np.float32), np.arange(4, dtype=np.float32)]
    p = tmp_path / "x_iter_5.solverstate"
    save_solverstate(p, 5, "x_iter_5.caffemodel", h, 2)
    s = caffe_pb["SolverState"]()
    s.ParseFromString(p.read_bytes())
    assert (s.iter, s.learned_net, s.current_step) == (5, "x_iter_5.caffemodel", 2)
    assert [list(b.shape.dim) for b in s.history] == [[2, 3], [4]]
    back = load_solverstate(p)
    assert back.iter == 5 and len(back.history) == 2


def test_ember_reads_unknown_fields_and_negative_ints():
    from ember.caffe.wire import decode, encode
    m = Msg("FillerParameter", type="gaussian", sparse=-3)
    raw = encode(m) + bytes([0xF8, 0x06, 0x01])  # field 111 (unknown), varint 1
    back = decode(raw, "FillerParameter")
    assert back.type == "gaussian" and back.sparse == -3
