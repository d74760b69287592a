"""Time-series forecasting with ember.keras: Seattle's daily maximum temperature (2012-2015,
vega-datasets' seattle-weather.csv, observations) for the next 7 days from the previous 30,
with an LSTM; compared with two naive forecasts (the last day's value repeated, and the mean of
the last 30 days).

    python examples/forecast_seattle_weather.py [--epochs 20]

Chronological split: 2012-2014 to train, 2015 to test (normalised with the training
statistics). Needs python3-vega-datasets (scripts/setup.sh installs it as root). The windows
come from ember.data.sequence_tasks, as for the config examples/forecast_vega.toml.
"""
import argparse
import time

import numpy as np

import ember
from ember.data.sequence_tasks import forecast_task, naive_errors
from ember.keras import layers, models

HISTORY, HORIZON = 30, 7


def run(epochs=20, units=32, seed=0, stride=1, verbose=1, batch_size=64):
    """Returns (model MAE, last-value MAE, window-mean MAE) on 2015, in degrees C."""
    ember.manual_seed(seed)
    task = forecast_task("seattle-weather.csv", "temp_max", HISTORY, HORIZON, "2015", stride)
    xtr, ytr, xte, yte, std = task.x_train, task.y_train, task.x_test, task.y_test, \
        task.target_scale
    model = models.Sequential([layers.LSTM(units, input_shape=(HISTORY, 1)),
                               layers.Dense(HORIZON)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(xtr, ytr, epochs=epochs, batch_size=batch_size, verbose=verbose)
    pred = model.predict(xte, batch_size=256)
    pred = pred.data if isinstance(pred, ember.Tensor) else np.asarray(pred)
    mae = float(np.abs(pred - yte).mean() * std)
    return (mae,) + naive_errors(xte, yte, std)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=1)
    a = p.parse_args()
    t0 = time.perf_counter()
    mae, last, daily = run(a.epochs, a.units, a.seed, verbose=a.verbose)
    print(f"2015 MAE over the next {HORIZON} days: LSTM {mae:.2f} C | last value {last:.2f} C | "
          f"mean of the last {HISTORY} days {daily:.2f} C  ({time.perf_counter() - t0:.0f} s)")
