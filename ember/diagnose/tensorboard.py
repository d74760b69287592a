"""The doctor's measurements in TensorBoard: activation histograms of every watched layer on the
sampled steps, the dead/saturated fractions and the loss as scalars, and the findings as text
(the Text tab), so a run's curves and its diagnosis sit side by side."""
import numpy as np


def write_doctor(doctor, log_dir, findings=None):
    """Write what ``doctor`` measured into the TensorBoard run ``log_dir``; returns the path."""
    from ..io.tensorboard import SummaryWriter
    from .findings import format_findings
    findings = doctor.diagnose() if findings is None else findings
    with SummaryWriter(log_dir) as w:
        for layer, records in doctor.monitor.history.items():
            tag = "doctor/activations/" + layer.replace(" ", "_")
            for s in records:
                counts, edges = (np.asarray(a, dtype=np.float64) for a in s.hist)
                n = float(counts.sum())
                if n == 0:
                    continue
                step = s.step or 0
                # the monitor keeps bins, not values: sums from the recorded mean and std
                w.add_histogram_raw(tag, float(edges[0]), float(edges[-1]), n, s.mean * n,
                                    (s.std ** 2 + s.mean ** 2) * n,
                                    np.concatenate([[edges[0]], edges[1:]]),
                                    np.concatenate([[0.0], counts]), step)
                w.add_scalar(tag.replace("/activations/", "/dead_fraction/"), s.dead_frac, step)
                if s.sat_frac is not None:
                    w.add_scalar(tag.replace("/activations/", "/saturated_fraction/"),
                                 s.sat_frac, step)
        for t, loss in enumerate(doctor.losses):
            if np.isfinite(loss):
                w.add_scalar("doctor/loss", float(loss), t)
        w.add_text("doctor/findings", "<pre>" + format_findings(findings) + "</pre>", 0)
    return log_dir
