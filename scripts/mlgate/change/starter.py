"""The policy ``mlgate init`` writes: champion gated by metric bounds (``--metric``), a full model card and two
approvals; its rollback gate by one approval from the same reviewers; any other alias by one approval.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

from mlgate.errors import UsageError
from mlgate.infra.yamlio import dump, scalar

#: the bounds a metric of the policy may have (schemas/policy.schema.json, README "Policy and promotion gates")
BOUNDS = ("min", "max", "no_regression")
METRIC_SYNTAX = "NAME:BOUND=NUMBER[,BOUND=NUMBER...], BOUND one of min, max, no_regression"
METRIC_EXAMPLE = "auc:min=0.8,no_regression=0.01"
_METRIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}\Z")
CARD_SECTIONS = ("Intended use", "Training data", "Evaluation", "Limitations")
_NO_METRICS_NOTE = (
    "# No metric gate yet: a champion is judged on its card and approvals only, and gate reports say\n"
    '# "no metric gates configured". Bound your metrics (max: for lower-is-better ones), e.g.\n'
    "#   metrics:\n"
    "#     auc: {min: 0.8, no_regression: 0.01}   # at least 0.8, at most 0.01 below the current champion\n"
    "#     latency_p99_ms: {max: 50}\n"
    "# or start with: mlgate init --metric auc:min=0.8,no_regression=0.01\n"
)


def _bad(spec: str, why: str) -> UsageError:
    return UsageError(f"--metric {spec!r}: {why} (expected {METRIC_SYNTAX}, e.g. {METRIC_EXAMPLE})")


def parse_metric(spec: str) -> tuple[str, dict[str, Any]]:
    """``auc:min=0.8,no_regression=0.01`` -> ``("auc", {"min": 0.8, "no_regression": 0.01})``; a UsageError
    naming the part that is wrong."""
    name, sep, rest = spec.partition(":")
    name = name.strip()
    if not sep:
        raise _bad(spec, "no ':' after the metric name")
    if not _METRIC_NAME.match(name):
        raise _bad(spec, f"{name!r} is not a metric name (a letter, then letters, digits, '_', '.' or '-')")
    bounds: dict[str, Any] = {}
    for part in rest.split(","):
        key, eq, text = (p.strip() for p in part.partition("="))
        if not eq or not key:
            raise _bad(spec, f"{part.strip()!r} is not BOUND=NUMBER")
        if key not in BOUNDS:
            raise _bad(spec, f"unknown bound {key!r} (bounds: {', '.join(BOUNDS)})")
        if key in bounds:
            raise _bad(spec, f"{key} is given twice")
        value = scalar(text)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _bad(spec, f"{key}={text!r}: {text!r} is not a number")
        if key == "no_regression" and value < 0:
            raise _bad(spec, f"no_regression={text}: a tolerance cannot be negative")
        bounds[key] = value
    if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
        raise _bad(spec, f"min={bounds['min']} is above max={bounds['max']}: no value can pass")
    return name, bounds


def parse_metrics(specs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Every ``--metric``, by name; a metric named twice is an error."""
    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        name, bounds = parse_metric(spec)
        if name in out:
            raise UsageError(f"--metric {spec!r}: {name!r} is already bounded by another --metric; give it once")
        out[name] = bounds
    return out


def policy_text(
    admins: Sequence[str], reviewers: Sequence[str], metrics: Mapping[str, Mapping[str, Any]] | None = None
) -> str:
    """registry/policy.yaml for a new registry.

    The champion needs two approvals from the reviewers, or as many as there can be: a list of one person
    (no team) asks for that person's approval, never for a second one nobody can give.
    """
    people = {r for r in reviewers if not r.startswith("@")}
    needed = 2 if not reviewers or len(people) != len(set(reviewers)) or len(people) >= 2 else 1
    data = {
        "apiVersion": "mlgate/v1",
        "kind": "Policy",
        "description": "Promotion gates. Edit to taste; changes to this file need an admin's approval.",
        "admins": list(admins),
        "aliases": {
            "champion": {
                "evidence": ["eval", "card"],
                "metrics": {k: dict(v) for k, v in (metrics or {}).items()},
                "card_sections": list(CARD_SECTIONS),
                "approvals": {"min": needed, "from": list(reviewers), "exclude_author": True},
                # a return to a previous champion: lighter, but still one of the champion's own reviewers
                "rollback": {"approvals": {"min": 1, "from": list(reviewers), "exclude_author": True}},
            },
            "*": {"evidence": ["eval"], "approvals": {"min": 1}},
        },
    }
    text = dump(data)
    if not metrics:
        text = re.sub(
            r"^(  +)metrics: \{\}\n",
            lambda m: "".join(f"{m.group(1)}{line}\n" for line in _NO_METRICS_NOTE.splitlines()) + m.group(0),
            text,
            count=1,
            flags=re.M,
        )
    return "# mlgate policy: see the README's 'Policy and promotion gates'.\n" + text
