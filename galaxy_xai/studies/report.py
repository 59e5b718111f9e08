"""The report (layout.report(), out/report.md): every study's headline beside its source paper's,
with a verdict a reader can trust.

Each study's metrics file carries `headlines` and `checks` (galaxy_xai.checks). A headline is
"reproduced" when every check it names passed, "not reproduced" when a claim check failed, and
"inconclusive" when a validity check failed (an estimator at its prior, saliency maps that ignore
the weights): the failed checks are named beside the verdict. Metrics files without checks are
listed, so a gap is visible rather than silent.
"""
from __future__ import annotations

import json
from pathlib import Path

from galaxy_xai.checks import failed, verdict


def read_all(metrics_dir) -> dict[str, dict]:
    """Every out/metrics/*.json by name (without .json), in name order."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(Path(metrics_dir).glob("*.json"))}


def headline_rows(metrics: dict[str, dict]) -> list[dict]:
    """One row per headline of every metrics file, with its verdict and the checks that decided it."""
    rows = []
    for name, m in metrics.items():
        checks = m.get("checks", {})
        for key, head in m.get("headlines", {}).items():
            result, bad = verdict(head, checks)
            rows.append({"metrics": name, "headline": key, **head, "verdict": result, "failed": bad,
                         "why": [checks[b]["meaning"] for b in bad if b in checks]})
    return rows


def _number(value, low, high, unit) -> str:
    if value is None:
        return "undefined"
    text = f"{value:.4g}"
    if low is not None and high is not None:
        text += f" [{low:.4g}, {high:.4g}]"
    return f"{text} {unit}".strip()


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(metrics: dict[str, dict]) -> str:
    rows = headline_rows(metrics)
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("reproduced", "not reproduced", "inconclusive")}
    lines = [
        "# What this run reproduces",
        "",
        "Written by the `report` stage from `out/metrics/*.json` (`dvc repro` keeps it current). Each row is a",
        "source paper's headline beside this run's number (95 % bootstrap CI in brackets). The verdict follows",
        "the checks the headline names: *inconclusive* when a check of whether the number can be read at all",
        "failed (an estimator that did not converge, saliency maps that ignore the weights), *not reproduced*",
        "when the claim itself failed. The failed checks are named; their meaning is in the list below.",
        "",
        f"{len(rows)} headlines: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".",
        "",
        "| Study | Paper's claim | Paper | This run | Verdict |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        verdict_text = r["verdict"] + (f" (failed: {', '.join(r['failed'])})" if r["failed"] else "")
        lines.append(f"| `{r['metrics']}` {_cell(r['headline'])} | {_cell(r['claim'])} | {_cell(r['paper'])} | "
                     f"{_number(r['value'], r['low'], r['high'], r['unit'])} | {verdict_text} |")
    lines += ["", "## Checks", ""]
    for name, m in metrics.items():
        checks = m.get("checks")
        if not checks:
            continue
        bad = failed(checks)
        lines.append(f"- `{name}`: {len(checks) - len(bad)} of {len(checks)} passed")
        for c in bad:
            ch = checks[c]
            lines.append(f"  - **{c}** failed ({ch.get('kind', 'claim')}): {_cell(ch['meaning'])} "
                         f"(value {_fmt(ch['value'])}, threshold {_fmt(ch['threshold'])})")
    missing = [name for name, m in metrics.items() if "checks" not in m]
    if missing:
        lines += ["", "Metrics without checks (their numbers are descriptive, not tested): "
                  + ", ".join(f"`{n}`" for n in missing) + "."]
    return "\n".join(lines) + "\n"


def _fmt(x) -> str:
    return "undefined" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)
