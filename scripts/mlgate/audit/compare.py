"""Two versions side by side: metrics with deltas and which is better, lineage, parameters, environment,
model card sections and evidence. The data behind ``mlgate compare``; :mod:`mlgate.render.compare` draws it.

Which way a metric is better comes from the policy's metric gates (a ``min`` bound: higher is better; a
``max`` bound: lower is better, as the gates judge a regression); a metric no gate names has no known
direction, and the comparison says so rather than guess.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from mlgate.check.gates import Judge
from mlgate.check.run import load_policy
from mlgate.core import layout
from mlgate.errors import InputError
from mlgate.infra.yamlio import exact
from mlgate.registry.names import Named
from mlgate.registry.snapshot import Registry, describe_version

#: the most of a card read for its headings (the evidence gate's own limit)
CARD_LIMIT = 4 * 1024 * 1024
HIGHER, LOWER = "higher", "lower"


def metric_directions(reg: Registry, model: str, judge: Judge | None = None) -> dict[str, tuple[str | None, str]]:
    """For each metric the policy gates for ``model``: which way is better ("higher", "lower", or None when
    two gates disagree) and where that comes from, e.g. ``"champion gate: min 0.85"``. ``judge``: one already
    made on ``reg``'s tree and policy (a caller asking about every model reads the policy once)."""
    if judge is None:
        policy, _ = load_policy(reg.tree)
        if policy is None:
            return {}
        judge = Judge(head=reg.tree, base=reg.tree, policy=policy)
    policy = judge.policy
    if policy is None:
        return {}
    found: dict[str, tuple[str | None, str]] = {}
    for key in policy.gates:
        gate, _ = judge.gate_of(model, key)
        for name, bound in (gate.metrics if gate else {}).items():
            way = LOWER if bound.lower_is_better else HIGHER
            bounds = ", ".join(f"{k} {v:g}" for k, v in (("min", bound.min), ("max", bound.max)) if v is not None)
            why = f"{key} gate" + (f": {bounds}" if bounds else "")
            if name not in found:
                found[name] = (way, why)
            elif found[name][0] not in (None, way):
                found[name] = (None, f"the gates disagree ({found[name][1]}; {why})")
    return found


def metric_rows(a: dict[str, float], b: dict[str, float], directions: dict[str, tuple[str | None, str]]) -> list[Any]:
    rows = []
    for name in list(a) + [n for n in b if n not in a]:
        va, vb = a.get(name), b.get(name)
        way, why = directions.get(name, (None, "no metric gate names it"))
        delta = better = None
        if va is not None and vb is not None:
            diff = exact(vb) - exact(va)
            delta = float(diff)
            if way is not None and diff.is_finite():
                better = "same" if diff == 0 else "b" if (diff > 0) == (way == HIGHER) else "a"
        rows.append({"name": name, "a": va, "b": vb, "delta": delta, "direction": way, "why": why, "better": better})
    return rows


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``a.b.c`` keys (lists stay whole values)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value} if prefix else {}


def _differences(a: Any, b: Any) -> list[dict[str, Any]]:
    fa, fb = flat(a or {}), flat(b or {})
    keys = list(fa) + [k for k in fb if k not in fa]
    return [{"field": k, "a": fa.get(k), "b": fb.get(k)} for k in keys if fa.get(k) != fb.get(k)]


def headings(markdown: str) -> list[str]:
    """A card's section headings, as CommonMark reads them (nothing in a code block is a heading).

    A document with one level-1 heading has it as its title ("fraud-detector v3"), which names the version
    rather than a section: then only the headings under it count.
    """
    return list(_headings(markdown))


@lru_cache(maxsize=256)
def _headings(markdown: str) -> tuple[str, ...]:
    # cards are often one template filled in: the catalog compares many versions with the same card
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(markdown)
    found = [
        (int(tok.tag[1]), " ".join(tokens[i + 1].content.split()))
        for i, tok in enumerate(tokens)
        if tok.type == "heading_open"
    ]
    if sum(level == 1 for level, _ in found) == 1:
        found = [h for h in found if h[0] > 1]
    return tuple(dict.fromkeys(title for _, title in found if title))


def _sections(reg: Registry, model: str, version: int) -> list[str] | None:
    """The card's section headings; None: no card, or it cannot be read."""
    path = layout.card_path(model, version)
    entry = reg.tree.entry(path)
    if entry is None or entry.kind != "file":
        return None
    try:
        text = reg.tree.read(path, limit=CARD_LIMIT).decode("utf-8", errors="replace")
    except InputError:
        return None
    return headings(text)


def _missing(these: list[str] | None, others: list[str] | None) -> list[str]:
    """Headings of ``these`` that ``others`` lacks (compared as the card gate does: case and spacing aside)."""
    seen = {h.lower() for h in others or []}
    return [h for h in these or [] if h.lower() not in seen]


def _side(named: Named, view: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": str(named),
        "model": named.model,
        "alias": named.alias,
        "version": named.version,
        "aliases": view["aliases"],
        "created_at": view["created_at"],
        "created_by": view["created_by"],
        "description": view["description"],
        "deprecated": view["deprecated"],
    }


def compare(
    reg: Registry, a: Named, b: Named, *, directions: dict[str, tuple[str | None, str]] | None = None
) -> dict[str, Any]:
    """``a`` and ``b`` (each naming a version) side by side, as plain data (the JSON of ``mlgate compare``).

    ``better`` of a metric is "a", "b", "same", or None (a side lacks it, or its direction is unknown);
    ``delta`` is b - a. Lineage, parameters and environment list only the fields that differ. ``directions``:
    :func:`metric_directions` of ``a``'s model when the caller has it already (the catalog compares many pairs).
    """
    assert a.version is not None and b.version is not None, "compare needs two versions"
    va, vb = describe_version(reg, a.model, a.version), describe_version(reg, b.model, b.version)
    directions = metric_directions(reg, a.model) if directions is None else directions
    lin_a, lin_b = dict(va["lineage"]), dict(vb["lineage"])
    params = _differences(lin_a.pop("params", {}), lin_b.pop("params", {}))
    env = _differences(lin_a.pop("environment", {}), lin_b.pop("environment", {}))
    ca, cb = _sections(reg, a.model, a.version), _sections(reg, b.model, b.version)
    ea = {k: v for k, v in va["evidence"].items() if v}
    eb = {k: v for k, v in vb["evidence"].items() if v}
    eval_a, eval_b = va["eval"] or {}, vb["eval"] or {}
    return {
        "commit": reg.tree.commit,
        "a": _side(a, va),
        "b": _side(b, vb),
        "metrics": metric_rows(eval_a.get("metrics", {}), eval_b.get("metrics", {}), directions),
        "eval_dataset": _differences(eval_a.get("dataset"), eval_b.get("dataset")),
        "artifact": _differences(va["artifact"], vb["artifact"]),
        "lineage": _differences(lin_a, lin_b),
        "params": params,
        "environment": env,
        "card": {
            "a": ca is not None,
            "b": cb is not None,
            "added": _missing(cb, ca),
            "removed": _missing(ca, cb),
        },
        "evidence": {
            "added": sorted(k for k in eb if k not in ea),
            "removed": sorted(k for k in ea if k not in eb),
            "both": sorted(k for k in ea if k in eb),
        },
    }
