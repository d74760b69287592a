"""Time-series forecasting with ember.keras: the next 24 hourly temperatures of Seattle (2010,
from vega-datasets) from the previous 72 hours, with an LSTM; compared with the two naive
forecasts (the last hour's value repeated, and the same hours of the previous day).

    python examples/forecast_seattle_temps.py [--epochs 10]

Chronological split: January-October to train, November-December to test (normalised with
the training statistics). Needs python3-vega-datasets (scripts/setup.sh installs it as root).
"""
import argparse
import time

import numpy as np

import ember
from ember.data.datasets.vega import load_vega_series
from ember.keras import layers, models

HISTORY, HORIZON = 72, 24


def make_windows(series, start, stop, stride=1):
    """Inputs (N, HISTORY, 1) and targets (N, HORIZON) whose windows lie in [start, stop)."""
    ends = np.arange(start + HISTORY, stop - HORIZON + 1, stride)
    x = np.stack([series[e - HISTORY:e] for e in ends])[:, :, None]
    y = np.stack([series[e:e + HORIZON] for e in ends])
    return x.astype(np.float32), y.astype(np.float32)


def naive_errors(x, y, std):
    """MAE (degrees F) of 'last value' and 'same hour yesterday' forecasts."""
    last = np.abs(x[:, -1:, 0] - y).mean() * std
    daily = np.abs(x[:, -24:, 0][:, :HORIZON] - y).mean() * std
    return float(last), float(daily)


def run(epochs=10, units=64, seed=0, stride=2, verbose=1):
    """Returns (model MAE, last-value MAE, same-hour-yesterday MAE) on the test months, in F."""
    ember.manual_seed(seed)
    _, temps = load_vega_series("seattle-temps.csv", "temp")
    split = int(len(temps) * 10 / 12)                 # Jan-Oct | Nov-Dec
    mean, std = temps[:split].mean(), temps[:split].std()
    z = (temps - mean) / std
    xtr, ytr = make_windows(z, 0, split, stride)
    xte, yte = make_windows(z, split, len(z), stride=HORIZON)
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
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    t0 = time.perf_counter()
    mae, last, daily = run(a.epochs, a.units, a.seed)
    print(f"test MAE over the next {HORIZON} h: LSTM {mae:.2f} F | last value {last:.2f} F | "
          f"same hours yesterday {daily:.2f} F  ({time.perf_counter() - t0:.0f} s)")
