"""Time-series forecasting with ember.keras: Seattle's daily maximum temperature (2012-2015,
vega-datasets' seattle-weather.csv, observations) for the next 7 days from the previous 30,
with an LSTM; compared with two naive forecasts (the last day's value repeated, and the mean of
the last 30 days).

    python examples/forecast_seattle_weather.py [--epochs 20]

Chronological split: 2012-2014 to train, 2015 to test (normalised with the training
statistics). Needs python3-vega-datasets (scripts/setup.sh installs it as root).
"""
import argparse
import time

import numpy as np

import ember
from ember.data.datasets.vega import load_vega_series
from ember.keras import layers, models

HISTORY, HORIZON = 30, 7


def make_windows(series, start, stop, stride=1):
    """Inputs (N, HISTORY, 1) and targets (N, HORIZON) whose windows lie in [start, stop)."""
    ends = np.arange(start + HISTORY, stop - HORIZON + 1, stride)
    x = np.stack([series[e - HISTORY:e] for e in ends])[:, :, None]
    y = np.stack([series[e:e + HORIZON] for e in ends])
    return x.astype(np.float32), y.astype(np.float32)


def naive_errors(x, y, std):
    """MAE (degrees C) of the 'last value' and 'mean of the window' forecasts."""
    last = np.abs(x[:, -1:, 0] - y).mean() * std
    mean = np.abs(x[:, :, 0].mean(1, keepdims=True) - y).mean() * std
    return float(last), float(mean)


def run(epochs=20, units=32, seed=0, stride=1, verbose=1):
    """Returns (model MAE, last-value MAE, window-mean MAE) on 2015, in degrees C."""
    ember.manual_seed(seed)
    dates, temps = load_vega_series("seattle-weather.csv", "temp_max")
    split = int(np.argmax(np.char.startswith(dates.astype(str), "2015")))  # 2012-14 | 2015
    mean, std = temps[:split].mean(), temps[:split].std()
    z = (temps - mean) / std
    xtr, ytr = make_windows(z, 0, split, stride)
    xte, yte = make_windows(z, split - HISTORY, len(z), stride=1)
    model = models.Sequential([layers.LSTM(units, input_shape=(HISTORY, 1)),
                               layers.Dense(HORIZON)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(xtr, ytr, epochs=epochs, batch_size=64, verbose=verbose)
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
