"""The pages: home, model, version, compare and audit, each a function of plain data (the registry's views,
history events as dicts, comparisons as :func:`mlgate.audit.compare.compare` returns them) to HTML."""

from __future__ import annotations

from typing import Any

from mlgate.catalog.chart import chart
from mlgate.catalog.html import dl, e, num, page, script, seg, size, table, url, when

KIND_WORDS = {"promotion": "promoted", "rollback": "rolled back", "removal": "removed"}


def _better_class(row: dict[str, Any]) -> str:
    """The colour of a delta: better, worse or same by the metric's direction; plain when unknown."""
    if row["better"] == "b":
        return "better"
    if row["better"] == "a":
        return "worse"
    return "same" if row["better"] == "same" else "plain"


def _delta_cell(row: dict[str, Any] | None) -> str:
    if row is None or row["delta"] is None:
        return ""
    word = {"better": "better", "worse": "worse", "same": "same"}.get(_better_class(row), "")
    sr = f'<span class="sr"> ({word})</span>' if word else ""
    return f' <span class="delta {_better_class(row)}">{num(row["delta"], sign=True)}{sr}</span>'


def unverified(event: dict[str, Any]) -> list[dict[str, str]]:
    """The approvals of ``event`` whose reviewer's team membership (or permission) the forge token could not
    read (``unverified: true``, from :attr:`mlgate.core.signoff.ApprovalCount.unverified`): shown as
    unverified, neither as approvals nor as refusals. The reason is only shown, never read for this."""
    found = event.get("not_counted")
    if not isinstance(found, list):
        return []
    return [n for n in found if isinstance(n, dict) and n.get("unverified") is True]


def _approvers(event: dict[str, Any]) -> str:
    found = event.get("approvers")
    if found == "unknown" or found is None:
        return f'<span class="muted">unknown ({e(event.get("approvers_unknown") or "no forge")})</span>'
    names = [e(a["login"]) for a in found]
    names += [
        f'<span class="unverified" title="{e(n["reason"])}">{e(n["login"])} (approved; not verified: '
        f"{e(n['reason'].partition(' (')[0])})</span>"
        for n in unverified(event)
    ]
    return ", ".join(names) or '<span class="muted">none</span>'


def _pr(event: dict[str, Any]) -> str:
    return f"#{event['pr']}" if event.get("pr") is not None else '<span class="muted">no PR</span>'


def _health(problems: list[str] | None) -> str:
    """The mark of an alias whose version is deprecated or would fail today's policy, with the reasons."""
    if not problems:
        return ""
    return f' <span class="health bad">⚠ fails today\'s policy: {"; ".join(e(p) for p in problems)}</span>'


def _move(event: dict[str, Any]) -> str:
    """What an alias event did, in words: "set to v2", "promoted v2 → v3", "removed (was v3)"."""
    before, after = event.get("from"), event.get("to")
    if event["kind"] == "removal" or after is None:
        return f"removed (was v{e(before)})"
    if before is None:
        return f"set to v{e(after)}"
    return f"{KIND_WORDS.get(event['kind'], e(event['kind']))} v{e(before)} → v{e(after)}"


def _who(event: dict[str, Any]) -> str:
    merger = event.get("merger")
    return e(event.get("author")) + (f" (merged by {e(merger)})" if merger and merger != event.get("author") else "")


# --- home ---------------------------------------------------------------------------------------------------


def home(models: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    cards = "".join(_model_card(m) for m in models)
    body = (
        f'<h1>Models</h1><p class="lede">{len(models)} model{"s" if len(models) != 1 else ""}, '
        f"{sum(m['count'] for m in models):,} versions, registry at {e(meta['source'])}.</p>"
        f'<ul class="models">{cards}</ul>'
    )
    return page("Models", "", body)


def _model_card(m: dict[str, Any]) -> str:
    name = m["name"]
    aliases = (
        "".join(
            f'<li><span class="alias">{e(a)}</span> → <a href="models/{seg(name)}/versions/{v}/">v{v}</a>'
            + _health(m["unhealthy"].get(a))
            + "</li>"
            for a, v in m["aliases"].items()
        )
        or '<li class="muted">no aliases</li>'
    )
    metrics = ", ".join(f"{e(k)} {num(v)}" for k, v in m["key_metrics"].items())
    last = m["last_promotion"]
    last_html = (
        f"{when(last['time'])} by {_who(last)}, {_pr(last)}: {e(last['alias'])} → v{e(last['to'])}"
        if last
        else '<span class="muted">none recorded</span>'
    )
    tags = "".join(f'<li class="tag">{e(k)}: {e(v)}</li>' for k, v in m["tags"].items())
    return (
        f'<li class="model"><h2><a href="models/{seg(name)}/">{e(name)}</a></h2>'
        f"<p>{e(m['description'])}</p>"
        + dl(
            [
                ("Owners", ", ".join(e(o) for o in m["owners"])),
                ("Aliases", f'<ul class="aliases">{aliases}</ul>'),
                ("Champion's metrics", metrics or '<span class="muted">no champion</span>'),
                ("Last promotion", last_html),
                ("Versions", f"{m['count']} (latest v{e(m['latest'])})"),
            ]
        )
        + (f'<ul class="tags" aria-label="Tags">{tags}</ul>' if tags else "")
        + "</li>"
    )


# --- model --------------------------------------------------------------------------------------------------


def model(view: dict[str, Any], d: dict[str, Any]) -> str:
    """``d``: directions, deltas per version, alias events, compare pairs."""
    name = view["name"]
    champion = d["champion"]
    metrics = view["metrics"]
    alias_rows = []
    for a, info in view["aliases"].items():
        ev = d["last_move"].get(a)
        dep = _health(d["unhealthy"].get(a))
        alias_rows.append(
            f'<tr><th scope="row">{e(a)}</th><td><a href="versions/{info["version"]}/">v{info["version"]}</a> {dep}</td>'
            + (
                f"<td>{when(ev['time'])}</td><td>{_who(ev)}</td><td>{_pr(ev)}</td><td>{_approvers(ev)}</td>"
                if ev
                else '<td colspan="4" class="muted">not in the history read</td>'
            )
            + f"<td>{e(info['note'] or '')}</td></tr>"
        )
    version_rows = []
    base = champion if champion is not None else (view["versions"][-1]["version"] if view["versions"] else None)
    for v in reversed(view["versions"]):
        n = v["version"]
        deltas = d["deltas"].get(n, {})
        cells = "".join(
            f'<td class="num">{num((v["metrics"] or {}).get(m))}{_delta_cell(deltas.get(m)) if n != champion else ""}</td>'
            for m in metrics
        )
        dep = f' <span class="health bad" title="{e(v["deprecated"])}">deprecated</span>' if v["deprecated"] else ""
        held = " ".join(f'<span class="alias">{e(a)}</span>' for a in v["aliases"])
        cmp_html = (
            f'<a href="compare/?a={base}&amp;b={n}">compare with {"champion" if champion is not None else "latest"}</a>'
            if base is not None and n != base
            else ""
        )
        version_rows.append(
            f'<tr class="{"deprecated" if v["deprecated"] else ""}"><th scope="row"><a href="versions/{n}/">v{n}</a>{dep}</th>'
            f"<td>{held}</td><td>{when(v['created_at'])}</td><td>{e(v['created_by'])}</td>{cells}<td>{cmp_html}</td></tr>"
        )
    way = {m: d["directions"].get(m, (None, ""))[0] for m in metrics}
    heads = [
        f'{e(m)} <span class="way">{"↑" if way[m] == "higher" else "↓" if way[m] == "lower" else ""}</span>'
        for m in metrics
    ]
    charts = "".join(chart(m, d["series"][m], way[m], f"c{i}") for i, m in enumerate(metrics) if d["series"].get(m))
    timeline = (
        "".join(
            f'<li>{when(ev["time"])} <span class="alias">{e(ev["alias"])}</span> '
            f"{_move(ev)} by {_who(ev)}, {_pr(ev)}, "
            f"approved by {_approvers(ev)}</li>"
            for ev in d["timeline"]
        )
        or '<li class="muted">no alias changes in the history read</li>'
    )
    compares = "".join(f'<li><a href="{href}">{e(text)}</a></li>' for text, href in d["compare_links"])
    tags = ", ".join(f"{e(k)}: {e(v)}" for k, v in view["tags"].items())
    body = (
        f'<h1>{e(name)}</h1><p class="lede">{e(view["description"])}</p>'
        + dl([("Owners", ", ".join(e(o) for o in view["owners"])), ("Tags", tags or "—")])
        + '<section aria-labelledby="h-aliases"><h2 id="h-aliases">Aliases</h2>'
        + table(
            "Who moved each alias last, from which pull request, approved by whom",
            ["alias", "version", "when", "who", "PR", "approved by", "note"],
            alias_rows,
        )
        + '</section><section aria-labelledby="h-versions"><h2 id="h-versions">Versions</h2>'
        + f"<p>Deltas are against the champion (v{e(champion)}); green is better, red worse, by the policy's direction (↑ higher is better, ↓ lower is better).</p>"
        + table(
            "Every version with its metrics",
            ["version", "aliases", "created", "by", *heads, "compare"],
            version_rows,
            "versions",
        )
        + '</section><section aria-labelledby="h-charts"><h2 id="h-charts">Metrics across versions</h2>'
        + (f'<div class="charts">{charts}</div>' if charts else '<p class="muted">no metrics</p>')
        + '</section><section aria-labelledby="h-compare"><h2 id="h-compare">Comparisons</h2>'
        + (
            '<p><a href="compare/">Compare any two versions</a>: metrics with deltas, parameters, lineage, '
            "environment, artifact and card sections side by side.</p>"
            + (f"<p>Comparisons built in advance:</p><ul>{compares}</ul>" if compares else "")
            if len(view["versions"]) > 1
            else '<p class="muted">one version: nothing to compare</p>'
        )
        + '</section><section aria-labelledby="h-timeline"><h2 id="h-timeline">Alias timeline</h2>'
        + f'<ol class="timeline">{timeline}</ol></section>'
    )
    return page(e(name), "../../", body, crumbs=[("Models", "../../index.html"), (e(name), "")])


# --- version ------------------------------------------------------------------------------------------------


def _kv(value: Any) -> str:
    if isinstance(value, dict):
        return dl((e(k), _kv(v)) for k, v in value.items()) if value else "—"
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_kv(v)}</li>" for v in value) + "</ul>" if value else "—"
    return f"<code>{e(value)}</code>" if isinstance(value, str) else num(value)


def _signature(sig: dict[str, Any]) -> str:
    out = []
    for side in ("inputs", "outputs"):
        specs = sig.get(side) or []
        rows = [
            f'<tr><th scope="row">{e(s.get("name"))}</th><td>{e(s.get("type"))}</td>'
            f"<td>{e(s.get('shape'))}</td><td>{e(s.get('description', ''))}</td></tr>"
            for s in specs
            if isinstance(s, dict)
        ]
        if rows:
            out.append(table(side.capitalize(), ["name", "type", "shape", "description"], rows))
    rest = {k: v for k, v in sig.items() if k not in ("inputs", "outputs")}
    return "".join(out) + (_kv(rest) if rest else "") or '<p class="muted">no signature</p>'


def version(v: dict[str, Any], d: dict[str, Any]) -> str:
    """``v``: :func:`describe_version`; ``d``: card and evidence HTML, deltas against the champion."""
    name, n = v["model"], v["version"]
    a = v["artifact"]
    lin = dict(v["lineage"])
    params, env, data = lin.pop("params", {}), lin.pop("environment", {}), lin.pop("dataset", None)
    repo, sha = lin.get("code_repo"), lin.get("git_sha")
    commit = e(sha)
    if url(repo) and sha:
        commit = (
            f'<a href="{url(str(repo).rstrip("/") + "/commit/" + str(sha))}" rel="noopener noreferrer">{e(sha)}</a>'
        )
    lineage = [
        ("Run", _kv(lin.pop("run_id", None))),
        ("Code commit", f"<code>{commit}</code>"),
        ("Code repository", _kv(lin.pop("code_repo", None))),
    ]
    lin.pop("git_sha", None)
    if data:
        lineage.append(("Data set", _kv(data)))
    lineage += [(e(k), _kv(val)) for k, val in lin.items()]
    ev = v["eval"]
    evaluation = '<p class="muted">no eval.yaml</p>'
    if ev:
        rows = [
            f'<tr><th scope="row">{e(m)}</th><td class="num">{num(val)}{_delta_cell(d["deltas"].get(m))}</td></tr>'
            for m, val in ev["metrics"].items()
        ]
        metric_names = list(ev["metrics"])
        slices = [
            f'<tr><th scope="row">{e(s)}</th>'
            + "".join(f'<td class="num">{num(vals.get(m))}</td>' for m in metric_names)
            + "</tr>"
            for s, vals in ev["slices"].items()
        ]
        evaluation = (
            dl([("Data set", _kv(ev["dataset"])), ("Evaluated", when(ev["evaluated_at"]))])
            + table(f"Metrics (delta against the champion, v{e(d['champion'])})", ["metric", "value"], rows)
            + (table("Metrics by slice", ["slice", *(e(m) for m in metric_names)], slices) if slices else "")
        )
    evidence = "".join(
        f"<li><strong>{e(k)}</strong>: <code>{e(f)}</code>"
        + (
            f'<details><summary>Show {e(f)}</summary><div class="md">{d["evidence_html"][k]}</div></details>'
            if k in d["evidence_html"]
            else ""
        )
        + "</li>"
        for k, f in v["evidence"].items()
        if f
    )
    held = " ".join(f'<span class="alias">{e(x)}</span>' for x in v["aliases"])
    dep = f'<p class="health bad" role="note">⚠ Deprecated: {e(v["deprecated"])}</p>' if v["deprecated"] else ""
    cmp_link = d.get("compare_link")
    body = (
        f'<h1>{e(name)} <span class="muted">v{n}</span> {held}</h1>{dep}<p class="lede">{e(v["description"])}</p>'
        + dl(
            [
                ("Created", when(v["created_at"])),
                ("By", e(v["created_by"])),
                ("Tags", ", ".join(f"{e(k)}: {e(t)}" for k, t in v["tags"].items()) or "—"),
            ]
        )
        + (f'<p><a href="{cmp_link}">Compare with the champion</a></p>' if cmp_link else "")
        + '<section aria-labelledby="h-art"><h2 id="h-art">Artifact</h2>'
        + dl(
            [
                ("URI", _kv(a["uri"])),
                ("sha256", _kv(a["sha256"])),
                ("Size", f"{size(a['size'])} ({a['size']:,} bytes)"),
                ("Format", e(a["format"])),
            ]
        )
        + '</section><section aria-labelledby="h-lin"><h2 id="h-lin">Lineage</h2>'
        + dl(lineage)
        + "<h3>Parameters</h3>"
        + _kv(params)
        + "<h3>Environment</h3>"
        + _kv(env)
        + '</section><section aria-labelledby="h-sig"><h2 id="h-sig">Signature</h2>'
        + _signature(v["signature"])
        + '</section><section aria-labelledby="h-eval"><h2 id="h-eval">Evaluation</h2>'
        + evaluation
        + '</section><section aria-labelledby="h-evid"><h2 id="h-evid">Evidence</h2>'
        + (f"<ul>{evidence}</ul>" if evidence else '<p class="muted">no evidence files</p>')
        + '</section><section aria-labelledby="h-card"><h2 id="h-card">Model card</h2>'
        + (
            f'<article class="md card">{d["card_html"]}</article>'
            if d["card_html"] is not None
            else '<p class="muted">no card.md</p>'
        )
        + "</section>"
    )
    crumbs = [("Models", "../../../../index.html"), (e(name), "../../"), (f"v{n}", "")]
    return page(f"{e(name)} v{n}", "../../../../", body, crumbs=crumbs)


# --- compare ------------------------------------------------------------------------------------------------


def _side(s: dict[str, Any], label: str) -> str:
    held = " ".join(f'<span class="alias">{e(x)}</span>' for x in s["aliases"])
    dep = f' <span class="health bad">deprecated: {e(s["deprecated"])}</span>' if s["deprecated"] else ""
    return (
        f'<div class="side"><h2>{label}: <a href="../../versions/{s["version"]}/">v{s["version"]}</a> {held}{dep}</h2>'
        f"<p>{e(s['description'])}</p><p>Created {when(s['created_at'])} by {e(s['created_by'])}</p></div>"
    )


def compare(view: dict[str, Any]) -> str:
    a, b = view["a"], view["b"]
    rows = [
        f'<tr><th scope="row">{e(m["name"])}</th><td class="num">{num(m["a"])}</td><td class="num">{num(m["b"])}</td>'
        f'<td class="num">{_delta_cell(m) if m["delta"] is not None else "—"}</td>'
        f'<td>{e(m["direction"] + " is better" if m["direction"] else "unknown")}<span class="muted"> ({e(m["why"])})</span></td></tr>'
        for m in view["metrics"]
    ]
    diffs = []
    for key, title in (
        ("params", "Parameters"),
        ("environment", "Environment"),
        ("lineage", "Lineage"),
        ("eval_dataset", "Evaluation data set"),
        ("artifact", "Artifact"),
    ):
        found = view[key]
        if found:
            diffs.append(
                table(
                    f"{title}: {len(found)} differ",
                    ["field", f"a (v{a['version']})", f"b (v{b['version']})"],
                    (
                        f'<tr><th scope="row">{e(x["field"])}</th><td>{_kv(x["a"])}</td><td>{_kv(x["b"])}</td></tr>'
                        for x in found
                    ),
                )
            )
        else:
            diffs.append(f"<p><strong>{title}</strong>: same</p>")
    card = view["card"]
    card_words = (
        "; ".join(
            f"{w}: {', '.join(e(h) for h in card[k])}"
            for k, w in (("added", "added in b"), ("removed", "missing in b"))
            if card[k]
        )
        or "same sections"
        if card["a"] and card["b"]
        else ("only a has a card" if card["a"] else "only b has a card" if card["b"] else "neither has a card")
    )
    ev = view["evidence"]
    ev_words = (
        "; ".join(
            f"{w}: {', '.join(e(x) for x in ev[k])}"
            for k, w in (("added", "added in b"), ("removed", "missing in b"), ("both", "both"))
        )
        if any(ev.values())
        else "none on either side"
    )
    title = f"{e(a['model'])}: v{a['version']} vs v{b['version']}"
    body = (
        f'<h1>Compare {title}</h1><p><a href="../?a={a["version"]}&amp;b={b["version"]}">Choose other versions '
        f'to compare</a></p><div class="sides">{_side(a, "a")}{_side(b, "b")}</div>'
        + '<section aria-labelledby="h-m"><h2 id="h-m">Metrics</h2>'
        + (
            table(
                "Metrics side by side (delta is b − a; coloured by the policy's direction)",
                ["metric", "a", "b", "delta", "better is"],
                rows,
            )
            if rows
            else '<p class="muted">no metrics on either side</p>'
        )
        + '</section><section aria-labelledby="h-d"><h2 id="h-d">What else differs</h2>'
        + "".join(diffs)
        + f'</section><section aria-labelledby="h-c"><h2 id="h-c">Card sections and evidence</h2><p><strong>Card sections</strong>: {card_words}</p><p><strong>Evidence</strong>: {ev_words}</p></section>'
    )
    crumbs = [
        ("Models", "../../../../index.html"),
        (e(a["model"]), "../../"),
        (f"v{a['version']} vs v{b['version']}", ""),
    ]
    return page(f"Compare {title}", "../../../../", body, crumbs=crumbs)


# --- audit --------------------------------------------------------------------------------------------------


def facets(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The values the audit filters offer, from the whole trail (every page offers them all from the start)."""
    people: set[str] = set()
    for ev in events:
        people.update(p for p in (ev.get("author"), ev.get("merger")) if p)
        if isinstance(ev.get("approvers"), list):
            people.update(a["login"] for a in ev["approvers"])
    return {
        "model": sorted({ev["model"] for ev in events if ev.get("model")}),
        "alias": sorted({ev["alias"] for ev in events if ev.get("alias")}),
        "kind": sorted({ev["kind"] for ev in events}),
        "person": sorted(people, key=str.lower),
    }


def audit(
    events: list[dict[str, Any]],
    part: int,
    parts: int,
    total: int,
    warnings: list[str],
    values: dict[str, list[str]] | None = None,
) -> str:
    """One page of the audit trail; ``values``: what the filters offer (:func:`facets` of the whole trail; None:
    this page's events')."""
    root = "../" if part == 0 else "../../"
    values = values if values is not None else facets(events)
    rows = []
    for ev in events:
        people = {ev.get("author"), ev.get("merger")}
        if isinstance(ev.get("approvers"), list):
            people |= {a["login"] for a in ev["approvers"]}
        people_text = " ".join(sorted(p for p in people if p))
        model_cell = f'<a href="{root}models/{seg(ev["model"])}/">{e(ev["model"])}</a>' if ev.get("model") else "—"
        change = _move(ev) if ev.get("alias") else (f"v{e(ev['to'])}" if ev.get("to") is not None else "")
        rows.append(
            f'<tr data-model="{e(ev.get("model") or "")}" data-alias="{e(ev.get("alias") or "")}" data-kind="{e(ev["kind"])}" '
            f'data-people="{e(people_text.lower())}" data-date="{e(str(ev["time"])[:10])}">'
            f"<td>{when(ev['time'])}</td><td>{e(ev['kind'])}</td><td>{model_cell}</td><td>{e(ev.get('alias') or '')}</td>"
            f"<td>{change}</td><td>{_who(ev)}</td><td>{_pr(ev)}</td><td>{_approvers(ev)}</td>"
            f"<td><code>{e(str(ev['commit'])[:12])}</code></td></tr>"
        )
    kinds, models, aliases = values["kind"], values["model"], values["alias"]

    def select(fid: str, label: str, options: list[str]) -> str:
        opts = "".join(f'<option value="{e(o)}">{e(o)}</option>' for o in options)
        return f'<label for="{fid}">{label}</label><select id="{fid}" data-filter="{fid[2:]}"><option value="">any</option>{opts}</select>'

    pager = ""
    if parts > 1:
        current = ' aria-current="page"'
        links = "".join(
            f'<li><a href="{root}audit/{"" if i == 0 else f"{i + 1}/"}index.html"{current if i == part else ""}>{i + 1}</a></li>'
            for i in range(parts)
        )
        pager = f'<nav aria-label="Audit pages" class="pager static"><ol>{links}</ol></nav>'
    warn = "".join(f'<p class="health bad" role="note">{e(w)}</p>' for w in warnings)
    body = (
        f'<h1>Audit trail</h1><p class="lede">{total:,} events on the branch\'s first-parent history, latest first'
        + (f"; page {part + 1} of {parts}" if parts > 1 else "")
        + ". The filters search the whole trail (this page alone without JavaScript).</p>"
        + warn
        + f'<form class="filters" aria-label="Filter the audit trail" data-total="{total}">'
        + select("f-model", "Model", models)
        + select("f-alias", "Alias", aliases)
        + select("f-kind", "Kind", kinds)
        + '<label for="f-person">Person</label>'
        + '<input id="f-person" data-filter="person" type="text" autocomplete="off" list="f-people">'
        + '<datalist id="f-people">'
        + "".join(f"<option>{e(p)}</option>" for p in values["person"])
        + "</datalist>"
        + '<label for="f-from">From</label><input id="f-from" data-filter="from" type="date">'
        + '<label for="f-to">To</label><input id="f-to" data-filter="to" type="date">'
        + '<output id="f-count" aria-live="polite"></output></form>'
        + pager
        + '<nav aria-label="Pages of matching events" class="pager" id="f-pages" hidden>'
        + '<button type="button" id="f-prev">Previous</button> <span id="f-where"></span> '
        + '<button type="button" id="f-next">Next</button></nav>'
        + table(
            "Registry events",
            ["when", "kind", "model", "alias", "change", "who", "PR", "approved by", "commit"],
            rows,
            "audit",
        )
        + pager
    )
    return page("Audit trail", root, body, crumbs=[("Models", f"{root}index.html"), ("Audit", "")])


def history_script(events: list[dict[str, Any]]) -> str:
    """``audit/history.js``: the whole audit trail for the audit page's filters (the events of
    ``audit/history.json``, as a script the page loads from disk too, under its CSP)."""
    return script("MLGATE_HISTORY", {"events": events})
