"""The report (layout.report(), out/report.md): every study's headline beside its source paper's,
with a verdict a reader can trust.

Each study's metrics file carries `headlines` and `checks` (galaxy_xai.checks). A headline is
"reproduced" when every check it names passed, "not reproduced" when a claim check failed, and
"inconclusive" when a validity check failed (an estimator at its prior, saliency maps that ignore
the weights): the failed checks are named beside the verdict. Metrics files without checks are
listed, so a gap is visible rather than silent.
"""
from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np

from galaxy_xai import layout
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


# ------------------------------------------------------------------ seed-to-seed spread (issue 22)
# `dvc metrics diff` shows every change; whether a change is more than another seed would give is
# read against the spread of repeated runs: `python -m galaxy_xai.studies.report --spread main seed1 seed2`.

def _resolve(rev: str, repo) -> str:
    """A commit for a git revision or a DVC experiment's name (refs/exps/.../<name>)."""
    ok = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=repo,
                        capture_output=True, text=True)
    if ok.returncode == 0:
        return ok.stdout.strip()
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], cwd=repo,
                          capture_output=True, text=True, check=True).stdout.split()
    found = [r for r in refs if r.rsplit("/", 1)[-1] == rev]
    if len(found) != 1:
        raise SystemExit(f"{rev!r} is neither a git revision nor one DVC experiment of {Path(repo).resolve()} "
                         f"({len(found)} experiments of that name)")
    return found[0]


def read_rev(rev: str, repo=".") -> dict[str, dict]:
    """Every metrics file committed at `rev` (a git revision or a DVC experiment name), by name."""
    commit, metrics_dir = _resolve(rev, repo), layout.metrics_dir().as_posix()
    names = subprocess.run(["git", "ls-tree", "--name-only", f"{commit}:{metrics_dir}"], cwd=repo,
                           capture_output=True, text=True, check=True).stdout.split()
    return {Path(n).stem: json.loads(subprocess.run(["git", "show", f"{commit}:{metrics_dir}/{n}"], cwd=repo,
                                                    capture_output=True, text=True, check=True).stdout)
            for n in sorted(names) if n.endswith(".json")}


def spread_rows(runs: dict[str, dict[str, dict]]) -> list[dict]:
    """Per headline present in every run: its value in each run, their mean, standard deviation
    (ddof 1) and range, and the median half-width of the runs' own 95 % CIs (None where undefined).
    A spread much wider than the CIs means the CI (over galaxies) understates a rerun's change."""
    heads = [{(m, k): h for m, metrics in run.items() for k, h in metrics.get("headlines", {}).items()}
             for run in runs.values()]
    rows = []
    for key in [k for k in heads[0] if all(k in h for h in heads[1:])]:
        values = [h[key]["value"] for h in heads]
        half = [(h[key]["high"] - h[key]["low"]) / 2 for h in heads
                if h[key].get("low") is not None and h[key].get("high") is not None]
        defined = [v for v in values if v is not None]
        rows.append({"metrics": key[0], "headline": key[1], "unit": heads[0][key]["unit"], "values": values,
                     "mean": float(np.mean(defined)) if defined else None,
                     "sd": float(np.std(defined, ddof=1)) if len(defined) > 1 else None,
                     "range": float(np.ptp(defined)) if defined else None,
                     "ci_half_width": float(np.median(half)) if half else None,
                     "verdicts": [verdict(h[key], run[key[0]].get("checks", {}))[0]
                                  for h, run in zip(heads, runs.values())]})
    return rows


def render_spread(runs: dict[str, dict[str, dict]]) -> str:
    """The spread table as markdown: one row per headline, one column per run."""
    names = list(runs)
    lines = ["| Study | Headline | " + " | ".join(names) + " | SD | range | median CI half-width | verdicts |",
             "|---|---|" + "---|" * (len(names) + 4)]
    for r in spread_rows(runs):
        vals = " | ".join(_fmt(v) for v in r["values"])
        same = set(r["verdicts"])
        verdicts = r["verdicts"][0] if len(same) == 1 else ", ".join(r["verdicts"])
        lines.append(f"| `{r['metrics']}` | {_cell(r['headline'])} ({r['unit']}) | {vals} | {_fmt(r['sd'])} | "
                     f"{_fmt(r['range'])} | {_fmt(r['ci_half_width'])} | {verdicts} |")
    return "\n".join(lines) + "\n"


def check_rows(runs: dict[str, dict[str, dict]]) -> list[dict]:
    """Per check present in any run (e.g. runs at different scales, where a study may be absent):
    its value and whether it passed in each run (None where the run lacks it)."""
    keys = list(dict.fromkeys((m, c) for run in runs.values() for m, metrics in run.items()
                              for c in metrics.get("checks", {})))
    rows = []
    for m, c in keys:
        found = [run.get(m, {}).get("checks", {}).get(c) for run in runs.values()]
        rows.append({"metrics": m, "check": c, "threshold": next(f["threshold"] for f in found if f),
                     "values": [f and f["value"] for f in found], "passed": [f and f["passed"] for f in found]})
    return rows


def render_checks(runs: dict[str, dict[str, dict]]) -> str:
    """The checks table as markdown: one row per check, its value in each run, ✓ passed / ✗ failed."""
    lines = ["| Study | Check | threshold | " + " | ".join(runs) + " |", "|---|---|---|" + "---|" * len(runs)]
    for r in check_rows(runs):
        cells = " | ".join("—" if p is None else f"{_fmt(v)} {'✓' if p else '✗'}" for v, p in zip(r["values"], r["passed"]))
        lines.append(f"| `{r['metrics']}` | {r['check']} | {_fmt(r['threshold'])} | {cells} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Headlines and checks over git revisions or DVC experiments "
                                                 "(their committed out/metrics).")
    parser.add_argument("--spread", nargs="+", metavar="REV",
                        help="two or more revisions / experiments: every shared headline's spread (seed repeats)")
    parser.add_argument("--checks", nargs="+", metavar="REV",
                        help="one or more revisions / experiments: every check's value in each (e.g. runs at several scales)")
    parser.add_argument("--repo", default=".")
    args = parser.parse_args(argv)
    if not (args.spread or args.checks):
        raise SystemExit("give --spread REV REV ... or --checks REV ...")
    if args.spread:
        if len(args.spread) < 2:
            raise SystemExit("--spread needs at least two revisions or experiments")
        print(render_spread({rev: read_rev(rev, args.repo) for rev in args.spread}), end="")
    if args.checks:
        print(render_checks({rev: read_rev(rev, args.repo) for rev in args.checks}), end="")


if __name__ == "__main__":
    main()
