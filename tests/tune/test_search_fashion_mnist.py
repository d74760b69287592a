"""The issue's acceptance for ``ember search``: on Fashion-MNIST with a small MLP, a 2-stage random
search (coarse: 12 trials x 1 epoch on 10k examples; fine: 8 trials around the best 3) beats the
default config under the same budget, and the 3x-loss pruner stops trials with a learning rate of
10 or more within their first epoch. Every trial can be re-run from its seed and parameters."""
import math
import os

import pytest

optuna = pytest.importorskip("optuna")
from ember.data.datasets import paths  # noqa: E402

BASE = """
[data]
dataset = "fashion_mnist"
layout = "flat"

[[model.layers]]
type = "Linear"
in_features = 784
out_features = 32

[[model.layers]]
type = "ReLU"

[[model.layers]]
type = "Linear"
in_features = 32
out_features = 10

[solver]
optimizer = "sgd"
base_lr = 0.01
momentum = 0.9
batch_size = 64
seed = 0
"""

SEARCH = """
[search]
config = "base.toml"
train_limit = 10000
validation_size = 5000
seed = 0
tensorboard = {tb}
report_every = 10

[space]
"solver.base_lr" = {{loguniform = [1e-4, 30.0]}}
"solver.weight_decay" = {{loguniform = [1e-6, 1e-2]}}

[[stage]]
name = "coarse"
trials = 12
epochs = 1

[[stage]]
name = "fine"
trials = 8
epochs = 1
refine_top_k = 3
shrink = 0.5
"""


def _have_fashion_mnist():
    try:
        from ember.data import load_fashion_mnist
        load_fashion_mnist()
        return True
    except Exception:  # noqa: BLE001 - any reason the data is not there
        return False


pytestmark = pytest.mark.skipif(not _have_fashion_mnist(),
                                reason="Fashion-MNIST not installed (apt-get install "
                                       "dataset-fashion-mnist)")


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    from ember.tune import search
    from ember.tune.search_config import load_search
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    d = tmp_path_factory.mktemp("search")
    (d / "base.toml").write_text(BASE)
    (d / "s.toml").write_text(SEARCH.format(tb="false"))
    sc = load_search(str(d / "s.toml"))
    sc.out = str(d / "out")
    url = search.storage_url(sc)
    study = search.work(sc, url)
    return sc, url, study


def test_two_stage_search_beats_the_default_config(searched):
    from ember.tune import search
    from ember.tune.config_trial import read_toml
    sc, _, study = searched
    assert [t.user_attrs["stage"] for t in study.trials] == ["coarse"] * 12 + ["fine"] * 8
    default = search.run_trial(sc, read_toml(sc.config), {}, seed=0, epochs=1, number=9999)
    best = study.best_value
    assert best > default["val_accuracy"] + 0.01, (best, default)
    fine = [t for t in study.trials if t.user_attrs["stage"] == "fine"]
    space = search.refine(study, 3, 0.5, stage="coarse")
    assert all(space["solver.base_lr"].lo <= t.params["solver.base_lr"] <= space["solver.base_lr"].hi
               for t in fine)


def test_large_learning_rates_are_pruned_in_their_first_epoch(searched):
    _, _, study = searched
    steps_per_epoch = math.ceil(10000 / 64)
    big = [t for t in study.trials if t.params["solver.base_lr"] >= 10]
    assert big, "the seeded coarse stage draws learning rates >= 10"
    for t in big:
        assert t.state == optuna.trial.TrialState.PRUNED
        assert max(t.intermediate_values) < steps_per_epoch


def test_a_trial_reruns_to_the_same_value(searched):
    from ember.tune import search
    sc, url, study = searched
    t = max((t for t in study.trials if t.value is not None and
             t.state == optuna.trial.TrialState.COMPLETE), key=lambda t: t.value)
    recorded, logs = search.rerun(sc, url, t.number)
    assert recorded == t.value
    assert logs["val_accuracy"] == recorded
    assert os.path.isfile(os.path.join(sc.out, "trials", f"{t.number:04d}", "config.toml"))
