"""The training doctor sees recurrent layers: their outputs are measured (the hook takes the
output of an (output, state) pair), and gradients exploding or vanishing through time are
findings that name the recurrent layer's weights."""
import numpy as np

import ember
import ember.diagnose as dx
import ember.nn as nn


class SeqNet(nn.Module):
    def __init__(self, nonlinearity):
        super().__init__()
        self.rnn = nn.RNN(4, 16, nonlinearity=nonlinearity, batch_first=True)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def _data(T=40):
    rng = np.random.default_rng(0)
    return (ember.Tensor(rng.standard_normal((8, T, 4)).astype(np.float32)),
            ember.Tensor(rng.integers(0, 3, 8)))


def test_exploding_gradients_through_time_name_the_recurrent_layer():
    net = SeqNet("relu")
    with ember.no_grad():
        net.rnn.weight_hh_l0.data[...] = 1.25 * np.eye(16, dtype=np.float32)
        net.rnn.weight_ih_l0.data[...] = np.abs(net.rnn.weight_ih_l0.data)
    x, y = _data(T=60)
    doc = dx.Doctor(net, verbose=False)
    found = doc.check_init(ember.Tensor(np.abs(x.data)), y)   # positive: every relu passes
    f = next(f for f in found if f.check == "exploding_gradients_through_time")
    assert f.layer == "rnn (RNN)" and "rnn (RNN)" in f.message and f.figures["ratio"] > 1e3
    assert any("(RNN)" in lab for lab in doc.monitor.labels)
    assert any("(RNN)" in s.layer for s in doc.init_stats)


def test_vanishing_gradients_through_time_name_the_recurrent_layer():
    net = SeqNet("tanh")
    with ember.no_grad():
        net.rnn.weight_hh_l0.data[...] *= 0.05
        net.rnn.weight_ih_l0.data[...] *= 0.05
    found = dx.Doctor(net, verbose=False).check_init(*_data())
    f = next(f for f in found if f.check == "vanishing_gradients_through_time")
    assert f.layer == "rnn (RNN)" and f.figures["ratio"] < 1e-3


def test_healthy_lstm_has_no_gradient_finding():
    class LSTMNet(SeqNet):
        def __init__(self):
            nn.Module.__init__(self)
            self.rnn = nn.LSTM(4, 16, batch_first=True)
            self.fc = nn.Linear(16, 3)
    found = dx.Doctor(LSTMNet(), verbose=False).check_init(*_data(T=10))
    assert not [f for f in found if "gradients" in f.check]
