import numpy as np
import pytest

from ember.train import metrics


def test_accuracy_sparse_onehot_and_binary():
    p = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    m = metrics.get("accuracy")
    m.update(p, np.array([1, 0, 0, 0]))
    assert m.result() == 0.75
    m.reset()
    m.update(p, np.eye(2)[[1, 0, 0, 0]])
    assert m.result() == 0.75
    b = metrics.Accuracy()
    b.update(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 0]))
    assert b.result() == pytest.approx(2 / 3)


def test_accuracy_accumulates_over_batches():
    m = metrics.Accuracy()
    m.update(np.eye(3), np.array([0, 1, 2]))
    m.update(np.eye(3), np.array([1, 1, 1]))
    assert m.result() == pytest.approx(4 / 6)


def test_top_k():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    m = metrics.TopKAccuracy(k=2)
    m.update(p, np.array([1, 0]))
    assert m.result() == 0.5


def test_precision_recall_f1_macro_match_hand_computation():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    # class 0: tp1 fp1 fn1 -> P .5 R .5; class 1: tp2 fp1 fn0 -> P 2/3 R 1; class 2: tp1 fp0 fn1
    p, r = np.array([0.5, 2 / 3, 1.0]), np.array([0.5, 1.0, 0.5])
    for cls, expect in [(metrics.Precision, p.mean()), (metrics.Recall, r.mean()),
                        (metrics.F1Score, (2 * p * r / (p + r)).mean())]:
        m = cls()
        m.update(y_pred, y_true)
        assert m.result() == pytest.approx(expect)


def test_mae_mse_and_function_metrics():
    m, s = metrics.get("mae"), metrics.get("mse")
    for x in (m, s):
        x.update(np.array([1.0, 2.0]), np.array([0.0, 4.0]))
    assert m.result() == 1.5 and s.result() == 2.5
    f = metrics.get(lambda yp, yt: float(np.mean(yp == yt)))
    f.update(np.array([1, 2]), np.array([1, 3]))
    f.update(np.array([1, 2, 3, 4]), np.array([1, 2, 3, 4]))
    assert f.result() == pytest.approx(5 / 6)


def test_unknown_metric_is_named():
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        metrics.get("acuracy")
