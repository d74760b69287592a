"""ember.tune without training: dimensions, the 3x-loss pruner, run/refine and stages."""
import math

import pytest

optuna = pytest.importorskip("optuna")
import ember.tune as tune  # noqa: E402
from ember.tune.space import from_dict  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_dimensions_check_their_bounds():
    with pytest.raises(ValueError, match="> 0"):
        tune.loguniform(0, 1)
    with pytest.raises(ValueError, match="below"):
        tune.uniform(2, 1)
    with pytest.raises(ValueError, match="ints"):
        tune.intrange(1.5, 3)
    with pytest.raises(ValueError, match="list"):
        tune.choice("abc")
    with pytest.raises(ValueError, match="exactly one"):
        from_dict("lr", {"loguniform": [1e-3, 1], "uniform": [0, 1]})
    assert from_dict("n", {"intrange": [16, 256], "log": True}) == tune.intrange(16, 256, log=True)


def test_grid_points_include_the_exact_ends():
    g = tune.loguniform(1e-3, 1e-1).grid(3)
    assert g[0] == 1e-3 and g[-1] == 1e-1 and g[1] == pytest.approx(1e-2)
    assert tune.intrange(1, 3).grid(5) == [1, 2, 3]


def _trial_with(values):
    study = optuna.create_study()
    trial = study.ask()
    for step, v in enumerate(values):
        trial.report(v, step)
    return study, study._storage.get_trial(trial._trial_id)


@pytest.mark.parametrize("values, pruned", [
    ([1.0, 2.0, 2.9], False),
    ([1.0, 2.0, 3.1], True),
    ([1.0, float("nan")], True),
    ([2.3, 1.0, 0.5], False),
    ([], False),
])
def test_exploding_loss_pruner_is_the_lectures_rule(values, pruned):
    study, frozen = _trial_with(values)
    assert tune.ExplodingLossPruner(3.0).prune(study, frozen) is pruned


def _quadratic(trial):
    # best at lr = 1e-2 (log scale), k = 5
    lr, k = trial.params["lr"], trial.params["k"]
    return -(math.log10(lr) + 2) ** 2 - 0.01 * (k - 5) ** 2


SPACE = {"lr": tune.loguniform(1e-5, 1.0), "k": tune.intrange(1, 9),
         "act": tune.choice(["relu", "tanh"])}


def test_params_are_sampled_before_the_objective_runs_and_seeded():
    seen = []

    def objective(trial):
        seen.append(dict(trial.params))
        assert set(trial.params) == set(SPACE)
        return _quadratic(trial)

    a = tune.run(objective, SPACE, 6, direction="maximize", seed=3)
    b = tune.run(_quadratic, SPACE, 6, direction="maximize", seed=3)
    assert [t.params for t in a.trials] == [t.params for t in b.trials] == seen
    assert [t.user_attrs["seed"] for t in a.trials] == [3, 4, 5, 6, 7, 8]


def test_coarse_to_fine_in_one_study():
    study = tune.run(_quadratic, SPACE, 12, direction="maximize", seed=0, stage="coarse")
    fine = tune.refine(study, top_k=3, shrink=0.5)
    top = tune.best_trials(study, 3, "coarse")
    old_w = math.log(1.0) - math.log(1e-5)
    new_w = math.log(fine["lr"].hi) - math.log(fine["lr"].lo)
    assert new_w == pytest.approx(max(0.5 * old_w, math.log(max(t.params["lr"] for t in top))
                                      - math.log(min(t.params["lr"] for t in top))))
    assert all(fine["lr"].lo <= t.params["lr"] <= fine["lr"].hi for t in top)
    assert fine["act"] == SPACE["act"]  # categorical spaces cannot change in an Optuna study
    tune.run(_quadratic, fine, 8, direction="maximize", seed=100, study=study, stage="fine")
    stages = [t.user_attrs["stage"] for t in study.trials]
    assert stages == ["coarse"] * 12 + ["fine"] * 8
    assert all(fine["lr"].lo <= t.params["lr"] <= fine["lr"].hi for t in study.trials[12:])
    assert study.user_attrs["stages"] == ["coarse", "fine"]
    assert tune.stage_space(study, "fine")["lr"] == fine["lr"]


def test_grid_sampler_runs_the_whole_grid():
    space = {"lr": tune.loguniform(1e-3, 1e-1), "act": tune.choice(["a", "b"])}
    study = tune.run(_quadratic_lr_only, space, sampler="grid", grid_points=3,
                     direction="maximize")
    got = sorted((round(math.log10(t.params["lr"])), t.params["act"]) for t in study.trials)
    assert got == sorted((e, a) for e in (-3, -2, -1) for a in "ab")


def _quadratic_lr_only(trial):
    return -(math.log10(trial.params["lr"]) + 2) ** 2


def test_pruned_trials_are_pruned_by_default():
    def objective(trial):
        lr = trial.params["lr"]
        loss = 1.0
        for step in range(20):
            loss *= 2.0 if lr > 0.5 else 0.9
            trial.report(loss, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    study = tune.run(objective, {"lr": tune.uniform(0.0, 1.0)}, 10, seed=1)
    for t in study.trials:
        if t.params["lr"] > 0.5:
            assert t.state == optuna.trial.TrialState.PRUNED
            assert max(t.intermediate_values) < 3  # stopped at 2^2 > 3x, not after 20 steps
        else:
            assert t.state == optuna.trial.TrialState.COMPLETE


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="n_trials"):
        tune.run(_quadratic, SPACE, 0)
    with pytest.raises(ValueError, match="direction"):
        tune.run(_quadratic, SPACE, 2, direction="up")
    with pytest.raises(ValueError, match="search space"):
        tune.run(_quadratic, {"lr": (1e-3, 1)}, 2)
    with pytest.raises(ValueError, match="sampler"):
        tune.run(_quadratic, SPACE, 2, sampler="bayes")
