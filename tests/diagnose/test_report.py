"""Text and HTML/PNG reports; matplotlib is optional."""
import base64
import builtins
import sys

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.diagnose as dx
from ember.diagnose import report

from .conftest import deep_net


def trained_doctor(steps=12):
    rng = np.random.default_rng(0)
    net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                        nn.Linear(32, 3))
    opt = ember.optim.SGD(net.parameters(), lr=0.1)
    doc = dx.Doctor(net, opt, every=3, verbose=False)
    x = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    doc.check_init(x, y)
    with doc.watch():
        for _ in range(steps):
            loss = F.cross_entropy(net(ember.tensor(x)), ember.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            doc.step(loss)
    doc.lr_find(x, y, num_steps=30, batch_size=32)
    return doc


def test_text_report(capsys):
    doc = trained_doctor()
    found = doc.report()
    out = capsys.readouterr().out
    assert out.startswith("ember doctor:") and "initial_loss" in out
    sev = [f.severity for f in found]
    order = {"error": 0, "warning": 1, "info": 2, "ok": 3}
    assert sev == sorted(sev, key=order.get)
    f = found[0]
    assert isinstance(f, dx.Finding) and f.check and f.message


def test_html_embeds_pngs(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib not installed: plots not tested")
    doc = trained_doctor()
    path = tmp_path / "r.html"
    doc.report(print_report=False, html=str(path))
    text = path.read_text()
    imgs = text.count("data:image/png;base64,")
    assert imgs >= 5            # activations (init, training), loss, update ratio, LR finder
    b64 = text.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<img" in text and "src='http" not in text    # self-contained
    paths = report.save_pngs(doc, str(tmp_path / "png"))
    assert {p.rsplit("/", 1)[1] for p in paths} >= {"activations_init.png", "loss.png",
                                                     "lr_finder.png", "update_ratio.png"}


def test_lecture_histograms_png(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib not installed: plots not tested")
    net = deep_net(nn.Tanh, 0.01, width=100)
    doc = dx.Doctor(net, verbose=False)
    doc.check_init(np.random.default_rng(0).standard_normal((200, 100)).astype(np.float32))
    paths = report.save_pngs(doc, str(tmp_path))
    assert [p.rsplit("/", 1)[1] for p in paths] == ["activations_init.png"]


def test_without_matplotlib_a_clear_message(tmp_path, monkeypatch, capsys):
    real_import = builtins.__import__

    def no_mpl(name, *a, **k):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *a, **k)

    doc = trained_doctor(steps=4)
    monkeypatch.setattr(builtins, "__import__", no_mpl)
    for k in [k for k in sys.modules if k.startswith("matplotlib")]:
        monkeypatch.delitem(sys.modules, k)
    found = doc.report(html=str(tmp_path / "r.html"), png_dir=str(tmp_path / "p"))
    out = capsys.readouterr().out
    assert "pip install matplotlib" in out and "ember doctor:" in out
    assert "pip install matplotlib" in (tmp_path / "r.html").read_text()
    assert found and not (tmp_path / "p").exists()
