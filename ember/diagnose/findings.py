"""``Finding``: one plain-language diagnosis (what was measured, where, why it matters, what
to try), and the text formatting of a list of findings."""
from dataclasses import dataclass, field

SEVERITIES = ("error", "warning", "info", "ok")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass
class Finding:
    """One result of a check.

    severity: "error" (training is broken), "warning" (likely a problem), "info", or "ok"
      (the check ran and passed).
    check: the check's short name, e.g. "loss_exploding", "dead_units", "init_activations".
    layer: the layer it concerns ("1 (ReLU)"), or None for whole-model findings.
    message: what was measured, with the figures, and why it matters.
    suggestion: what to try.
    figures: the numbers behind the message (for programs and the HTML report).
    step: the training step it was seen at, when it comes from training.
    """
    severity: str
    check: str
    message: str
    layer: str = None
    suggestion: str = ""
    figures: dict = field(default_factory=dict)
    step: int = None

    def __post_init__(self):
        if self.severity not in _RANK:
            raise ValueError(f"Finding severity must be one of {SEVERITIES}, got {self.severity!r}")

    @property
    def is_problem(self):
        """True for errors and warnings."""
        return self.severity in ("error", "warning")

    def __str__(self):
        where = f" [{self.layer}]" if self.layer else ""
        at = f" (step {self.step})" if self.step is not None else ""
        s = f"{self.severity.upper():7s} {self.check}{where}{at}: {self.message}"
        if self.suggestion:
            s += f"\n        try: {self.suggestion}"
        return s


def sort_findings(findings):
    """Most severe first, otherwise in the order they were found."""
    return sorted(findings, key=lambda f: _RANK[f.severity])


def format_findings(findings, title="ember doctor"):
    """A text report: a header line with the counts, then one block per finding."""
    findings = sort_findings(findings)
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITIES}
    head = (f"{title}: {counts['error']} error(s), {counts['warning']} warning(s), "
            f"{counts['info']} note(s), {counts['ok']} check(s) passed")
    lines = [head, "-" * len(head)]
    lines += [str(f) for f in findings]
    if not findings:
        lines.append("no checks ran")
    return "\n".join(lines)


def fmt(x):
    """A number as people write it in a report: 0.21, 3e-05, 2.303, 1e+06."""
    if x is None:
        return "n/a"
    x = float(x)
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1e4 or a < 1e-3:
        return f"{x:.2g}"
    if a >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}" if a < 1 else f"{x:.4g}"
