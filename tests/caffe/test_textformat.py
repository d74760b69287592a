"""The prototxt (protobuf text format) parser and its typed checks."""
import math

import pytest

from ember.caffe import CaffeError, PrototxtError, from_text


def net(text):
    return from_text(text, "NetParameter", "n.prototxt")


def test_values_of_every_kind():
    m = net('''name: "Le" 'Net'   # adjacent strings join; a comment
    layer < name: "a\\tb" type: "Convolution" convolution_param: {
        num_output: 0x10 kernel_size: 5 kernel_size: 3 pad: [1, 2] bias_term: false
        weight_filler { type: "gaussian" std: 1e-2 } bias_filler { type: "constant" value: -.5 }
      } loss_weight: inf; include { phase: TEST }, >
    layer { name: "b" type: "Pooling" pooling_param { pool: 1 } }''')
    assert m.name == "LeNet"
    conv = m.layer[0]
    assert conv.name == "a\tb"
    p = conv.convolution_param
    assert p.num_output == 16 and p.kernel_size == [5, 3] and p.pad == [1, 2]
    assert p.bias_term is False
    assert p.weight_filler.std == pytest.approx(0.01) and p.bias_filler.value == -0.5
    assert conv.loss_weight == [math.inf] and conv.include[0].phase == "TEST"
    assert m.layer[1].pooling_param.pool == "AVE"           # enums by number too
    # defaults of unset fields come from Caffe's schema
    assert p.group == 1 and p.stride == [] and m.layer[1].pooling_param.round_mode == "CEIL"
    assert not p.has("stride") and p.has("pad")


@pytest.mark.parametrize("text, where, words", [
    ('layer { name: "x" kernal_size: 3 }', "n.prototxt:1:19", ["unknown field 'kernal_size'",
                                                             "supported fields", "bottom"]),
    ('layer {\n  name: "x"\n', "n.prototxt:3:1", ["end of file", "line 1, column 7"]),
    ('layer { name: x }', "n.prototxt:1:15", ["quoted string"]),
    ('layer { include { phase: TRIAN } }', "n.prototxt:1:26", ["'TRIAN'", "TRAIN, TEST"]),
    ('layer {\n convolution_param { num_output: 2.5 } }', "n.prototxt:2:34", ["integer"]),
    ('layer { name: "x" } }', "n.prototxt:1:21", ["expected a field name"]),
    ('name: "a"\nname: "b"', "n.prototxt:2:1", ["given twice"]),
    ('layer { name "x" }', "n.prototxt:1:14", ["expected ':'"]),
    ('layer { name: "x\n" }', "n.prototxt:1:15", ["unexpected character"]),
    ('layer { convolution_param: 3 }', "n.prototxt:1:28", ["is a message"]),
])
def test_errors_name_file_line_column(text, where, words):
    with pytest.raises(PrototxtError) as e:
        net(text)
    msg = str(e.value)
    assert msg.startswith(where + ": "), msg
    for w in words:
        assert w in msg, msg


def test_missing_file_names_path(tmp_path):
    from ember.caffe import read_text
    with pytest.raises(CaffeError, match="nope.prototxt: no such file"):
        read_text(tmp_path / "nope.prototxt", "NetParameter")


def test_where_points_at_the_field():
    m = net('layer {\n  name: "c"\n  convolution_param {\n    num_output: 3\n  }\n}')
    assert m.layer[0].convolution_param.where("num_output") == "n.prototxt:4:5"
    assert m.layer[0].where() == "n.prototxt:1:7"
