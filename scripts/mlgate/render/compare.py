"""``mlgate compare`` as text for terminals and Markdown for pull requests (JSON is the data itself).

Everything shown comes from manifests and cards anyone can write in a pull request: text output goes
through :func:`terminal_safe`, Markdown through :func:`md_text` and :func:`md_code`.
"""

from __future__ import annotations

from typing import Any

from mlgate.render.report import md_code, md_text, terminal_safe


def _num(value: Any, sign: str = "") -> str:
    """A value as written: integers whole, floats short unless that would round them."""
    if value is None:
        return "-"
    if isinstance(value, float):
        short = format(value, f"{sign}g")
        return short if float(short) == value else ("+" if sign and value >= 0 else "") + repr(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return format(value, f"{sign}d")
    return str(value)


def _delta(value: float | None) -> str:
    return "-" if value is None else _num(value, "+")


def _label(view: dict[str, Any], side: str) -> str:
    """How the better side is named in a row: ``v3`` (the other model's name too when two models are compared)."""
    this, other = view[side], view["b" if side == "a" else "a"]
    return f"v{this['version']}" if this["model"] == other["model"] else f"{this['model']} v{this['version']}"


def _verdict(view: dict[str, Any], row: dict[str, Any]) -> str:
    if row["a"] is None or row["b"] is None:
        return f"only in {_label(view, 'a' if row['b'] is None else 'b')}"
    if row["direction"] is None:
        return f"direction unknown ({row['why']})"
    way = f"{row['direction']} is better, {row['why']}"
    if row["better"] == "same":
        return f"same ({way})"
    return f"{_label(view, row['better'])} ({way})"


def _side_line(side: dict[str, Any]) -> str:
    held = f" ({', '.join(side['aliases'])})" if side["aliases"] else ""
    dep = f" DEPRECATED: {side['deprecated']}" if side["deprecated"] else ""
    return (
        f"{side['model']} version {side['version']}{held}, created {side['created_at']} by {side['created_by']}: "
        f"{side['description']}{dep}"
    )


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    cells = [[terminal_safe(c, newlines=False) for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]


_DIFFS = (
    ("params", "parameters"),
    ("environment", "environment"),
    ("lineage", "lineage"),
    ("eval_dataset", "evaluation data set"),
    ("artifact", "artifact"),
)


def _card_words(card: dict[str, Any]) -> str:
    if not card["a"] or not card["b"]:
        return f"only {'a' if card['a'] else 'b'} has a card" if card["a"] or card["b"] else "neither has a card"
    parts = [
        f"{what}: {', '.join(card[key])}" for key, what in (("added", "added"), ("removed", "removed")) if card[key]
    ]
    return "; ".join(parts) or "same sections"


def _evidence_words(ev: dict[str, Any]) -> str:
    parts = [f"{what}: {', '.join(ev[key])}" for key, what in (("added", "added"), ("removed", "removed")) if ev[key]]
    return "; ".join(parts) or ("same: " + ", ".join(ev["both"]) if ev["both"] else "none on either side")


def compare_text(view: dict[str, Any]) -> str:
    """The comparison for a terminal: who is who, metrics with deltas, then only what differs."""
    a, b = view["a"], view["b"]
    out = [f"compare {a['name']} (a) with {b['name']} (b)", f"  a: {_side_line(a)}", f"  b: {_side_line(b)}", ""]
    if view["metrics"]:
        out.append("metrics (delta is b - a):")
        rows = [[m["name"], _num(m["a"]), _num(m["b"]), _delta(m["delta"]), _verdict(view, m)] for m in view["metrics"]]
        out += _columns(["metric", "a", "b", "delta", "better"], rows)
    else:
        out.append("metrics: neither version has an eval.yaml with metrics")
    for key, title in _DIFFS:
        diffs = view[key]
        if diffs:
            out += ["", f"{title} ({len(diffs)} differ):"]
            out += _columns(["field", "a", "b"], [[d["field"], _num(d["a"]), _num(d["b"])] for d in diffs])
        else:
            out += ["", f"{title}: same"]
    out += ["", f"card sections (b vs a): {_card_words(view['card'])}"]
    out.append(f"evidence (b vs a): {_evidence_words(view['evidence'])}")
    return terminal_safe("\n".join(out) + "\n")


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def compare_markdown(view: dict[str, Any]) -> str:
    """The comparison for a pull request or a job summary: tables of metrics and of what differs."""
    a, b = view["a"], view["b"]
    out = [
        f"### Compare {md_code(a['name'])} (a) with {md_code(b['name'])} (b)",
        "",
        f"- **a**: {md_text(_side_line(a))}",
        f"- **b**: {md_text(_side_line(b))}",
        "",
    ]
    if view["metrics"]:
        out += [_md_row(["metric", "a", "b", "delta (b - a)", "better"]), "|---|---:|---:|---:|---|"]
        for m in view["metrics"]:
            cells = [_num(m["a"]), _num(m["b"]), _delta(m["delta"]), _verdict(view, m)]
            out.append(_md_row([md_code(m["name"])] + [md_text(c) for c in cells]))
    else:
        out.append("_Neither version has an eval.yaml with metrics._")
    for key, title in _DIFFS:
        diffs = view[key]
        out += ["", f"**{title}**: " + (f"{len(diffs)} differ" if diffs else "same")]
        if diffs:
            out += ["", _md_row(["field", "a", "b"]), "|---|---|---|"]
            out += [_md_row([md_code(d["field"]), md_code(_num(d["a"])), md_code(_num(d["b"]))]) for d in diffs]
    out += ["", f"**card sections** (b vs a): {md_text(_card_words(view['card']))}"]
    out += ["", f"**evidence** (b vs a): {md_text(_evidence_words(view['evidence']))}"]
    return "\n".join(out) + "\n"
