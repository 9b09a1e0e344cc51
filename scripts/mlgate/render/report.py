"""Rendering: validation reports and registry views as text, Markdown or JSON.

The only module that formats output; the library returns data, the CLI picks a
renderer. JSON shapes are documented in the README and, for ``validate``, in
schemas/validate-report.schema.json.
"""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

from mlgate.core.findings import Finding, Report

REPORT_FORMAT = "mlgate.validate/v1"

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def to_json(data: Any) -> str:
    # ensure_ascii=False keeps names readable; JSON escapes C0 controls itself, and C1 controls and bidi
    # overrides (which some terminals obey) are escaped here, still as valid JSON
    text = json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# --- neutralising untrusted text ----------------------------------------------
#
# Manifests, file names, commit messages and forge data are written by whoever opened a pull request.
# Before any of it reaches a terminal it loses its control characters (an ESC could recolour, hide or
# rewrite the FAILED line, an OSC 8 sequence could plant a link); before it reaches Markdown (a PR
# comment, a job summary) it loses its power to be markup: HTML, links, images, emphasis, code spans.


def _escape_control(m: re.Match[str]) -> str:
    c = m.group()
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def terminal_safe(text: Any, *, newlines: bool = True) -> str:
    """``text`` with control characters (ESC, OSC, bidi overrides...) shown as ``\\xNN`` escapes; tab and
    newline kept unless ``newlines`` is false."""
    out = _CONTROL.sub(_escape_control, str(text))
    return out if newlines else out.replace("\n", "\\n").replace("\t", " ")


# what can start inline markup mid-line (block markers like '#', '-', '>' only count at a line's start,
# and every use of md_text follows other text); '<' and '&' are escaped as HTML entities
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~!])")


def md_text(text: Any) -> str:
    """Untrusted text as inert Markdown within a line: HTML escaped, inline markup characters backslash-escaped."""
    one_line = terminal_safe(text, newlines=False).replace("\r", " ")
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def md_code(text: Any) -> str:
    """Untrusted text as a Markdown code span that nothing inside can end (and ``|`` cannot split a table cell)."""
    one_line = terminal_safe(text, newlines=False).replace("\r", " ")
    longest = max((len(run) for run in re.findall(r"`+", one_line)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") or not one_line.strip() else ""
    # GFM splits table cells on '|' before it reads code spans, and takes '\\|' as a literal pipe even there
    return f"{fence}{pad}{one_line.replace('|', chr(92) + '|')}{pad}{fence}"


# --- validate -----------------------------------------------------------------


def report_dict(report: Report) -> dict[str, Any]:
    """The stable JSON shape of a validation report."""
    findings = report.sorted_findings()
    return {
        "format": REPORT_FORMAT,
        "ok": report.ok,
        "mode": report.mode,
        "head": report.head,
        "base": report.base,
        "files_checked": report.files_checked,
        "counts": {sev: sum(f.severity == sev for f in findings) for sev in ("error", "pending", "warning")},
        "findings": [f.to_dict() for f in findings],
        "gates": [g.to_dict() for g in report.gates],
    }


def _scope(report: Report) -> str:
    if report.mode == "incremental":
        return f"changes in {report.head} against {report.base}"
    return f"all of {report.head}"


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _location(f: Finding) -> str:
    return f"{f.path}:{f.line}" if f.line else f.path


_COLORS = {"pass": "32", "fail": "31", "pending": "33", "error": "31", "warning": "33"}


def _paint(text: str, status: str, color: bool) -> str:
    return f"\x1b[{_COLORS.get(status, '0')}m{text}\x1b[0m" if color else text


def _unconfigured(check: Any) -> bool:
    """The check that stands for a gate with no metric bound ("no metric gates configured"): shown as none, not
    as a pass, so that nobody reads it as metrics checked (JSON keeps ``pass`` with ``configured: false``)."""
    return check.details.get("configured") is False


def _pct(x: Any) -> str:
    return f"{x:g}%"


def rollout_line(info: Any) -> str | None:
    """Where a rollout stands after the change, what comes next and what evidence is there or missing."""
    if not info or "mode" not in info:
        return None
    kind, before, after = info.get("change"), info.get("before"), info.get("after")
    if kind in ("complete", "abort"):
        stands = f"{info['mode']} of v{info['candidate']} ends at {_pct(before)}"
    else:
        stands = f"{info['mode']} of v{info['candidate']} at {_pct(after)}"
    steps = info.get("steps")
    parts = [stands + (f" (steps {', '.join(f'{s:g}' for s in steps)})" if steps else " (no policy steps)")]
    at = after if after is not None else before
    if kind not in ("complete", "abort") and steps:
        nxt = info.get("next")
        parts.append(f"next: {_pct(nxt)}" if nxt is not None else "next: complete")
    ev = info.get("evidence") or {}
    if not steps:
        kind = "complete"  # no policy steps: no evidence to ask for
    if ev.get("present"):
        parts.append(
            f"evidence on the base: {ev['path']} at {_pct(ev['percent'])} vs v{ev['holder']} ({ev['requests']:,} requests)"
        )
        if kind not in ("complete", "abort") and at is not None and ev["percent"] != at:
            parts.append(f"the next step needs evidence at {_pct(at)}")
    elif kind not in ("complete", "abort") and at is not None:
        parts.append(f"evidence missing: the next step needs {ev.get('path')} at {_pct(at)}")
    return "rollout: " + "; ".join(parts)


def gate_text(change: Any, color: bool = False) -> str:
    """One alias change and its gate table, for terminals."""
    policy = f"  [policy: {_t(change.policy_key)}]" if change.policy_key else ""
    lines = [f"{_t(change.title())}{policy}  {_paint(change.status.upper(), change.status, color)}"]
    line = rollout_line(getattr(change, "rollout", None))
    if line:
        lines.append(f"  {_t(line)}")
    width = max((len(_t(c.gate)) for c in change.checks), default=0)
    for c in change.checks:
        status = "none" if _unconfigured(c) else c.status
        lines.append(f"  {_paint(f'{status:<8}', c.status, color)} {_t(c.gate):<{width}}  {_t(c.reason)}")
    return "\n".join(lines) + "\n"


def _t(text: Any) -> str:
    """One untrusted value on one terminal line."""
    return terminal_safe(text, newlines=False)


def _summary(report: Report) -> str:
    n, p = len(report.errors), len(report.pending)
    parts = []
    if n:
        parts.append(f"{n} problem{'s' if n != 1 else ''}")
    if p:
        parts.append(f"{p} gate{'s' if p != 1 else ''} pending")
    status = ("FAILED: " if n else "NOT YET: ") + ", ".join(parts) if parts else "OK: no problems"
    w = sum(1 for f in set(report.findings) if f.severity == "warning")  # said, never a failure
    if w:
        status += f"; {w} warning{'s' if w != 1 else ''}"
    return f"{status} ({_files(report.files_checked)} checked; {_scope(report)})"


def _not_in_gate_tables(report: Report) -> list[Finding]:
    """Findings other than the gate verdicts the tables already show (JSON keeps them all)."""
    shown = {f for change in report.gates for f in change.findings()}
    return [f for f in report.sorted_findings() if f not in shown]


def report_text(report: Report, color: bool = False) -> str:
    out = io.StringIO()
    for change in report.gates:
        out.write(gate_text(change, color) + "\n")
    for f in _not_in_gate_tables(report):
        rule = _paint(f"{f.rule} {f.rule_name}", f.severity, color)
        label = f" ({f.severity})" if f.severity in ("pending", "warning") else ""
        out.write(f"{_t(_location(f))}: {rule}{label}: {_t(f.message)}\n")
    out.write(_t(_summary(report)) + "\n")
    return out.getvalue()


_md_cell = md_text


_ICONS = {"pass": ":white_check_mark: pass", "fail": ":x: fail", "pending": ":hourglass: pending"}


def gate_markdown(change: Any) -> str:
    """One alias change and its gate table, for a PR body or a job summary."""
    policy = f" (policy {md_code(change.policy_key)})" if change.policy_key else ""
    lines = [
        f"#### {_ICONS[change.status]}: {md_code(change.title())}{policy}",
        "",
        "| gate | status | why |",
        "|---|---|---|",
    ]
    line = rollout_line(getattr(change, "rollout", None))
    if line:
        lines[1:1] = ["", _md_cell(line)]
    for c in change.checks:
        icon = ":warning: none" if _unconfigured(c) else _ICONS[c.status]
        lines.append(f"| {_md_cell(c.gate)} | {icon} | {_md_cell(c.reason)} |")
    return "\n".join(lines) + "\n"


def report_markdown(report: Report) -> str:
    n, p = len(report.errors), len(report.pending)
    if report.ok:
        verdict = "passed :white_check_mark:"
    elif n:
        verdict = f"{n} problem{'s' if n != 1 else ''} :x:" + (f", {p} pending" if p else "")
    else:
        verdict = f"{p} gate{'s' if p != 1 else ''} pending :hourglass:"
    lines = [
        "### mlgate validate: " + verdict,
        "",
        f"{_files(report.files_checked)} checked; {_md_cell(_scope(report))}.",
        "",
    ]
    for change in report.gates:
        lines += [gate_markdown(change)]
    findings = _not_in_gate_tables(report)
    if findings:
        lines += ["| rule | file | problem |", "|---|---|---|"]
        for f in findings:
            label = f" ({f.severity})" if f.severity in ("pending", "warning") else ""
            lines.append(f"| `{f.rule}` {f.rule_name}{label} | {md_code(_location(f))} | {_md_cell(f.message)} |")
        lines.append("")
        # the catalogue loads every checking module (jsonschema, PyYAML): only when a report names rules, so
        # that importing the renderer (the CLI does, at start-up) stays light
        from mlgate.check.rules import RULES

        used = sorted({f.rule for f in findings})
        lines += ["<details><summary>What the rules check</summary>", ""]
        lines += [f"- `{r}` {RULES[r].name}: {RULES[r].doc}" for r in used]
        lines += ["", "</details>", ""]
    return "\n".join(lines)


def report_markdown_short(report: Report) -> str:
    """The report cut to what decides it, for where the full one is too long (a PR comment over GitHub's limit):
    the verdict, the gates that fail or wait, and at most 50 other problems."""
    full = report_markdown(report).split("\n", 1)[0]
    lines = [full, "", "_The full report is too long for a comment: it is in the check's job summary._", ""]
    for change in report.gates:
        if change.status != "pass":
            lines.append(gate_markdown(change))
    findings = _not_in_gate_tables(report)
    if findings:
        lines += ["| rule | file | problem |", "|---|---|---|"]
        for f in findings[:50]:
            lines.append(f"| `{f.rule}` {f.rule_name} | {md_code(_location(f))} | {_md_cell(f.message)} |")
        if len(findings) > 50:
            lines.append(f"| | | and {len(findings) - 50} more |")
    return "\n".join(lines) + "\n"


# --- list / show / resolve ----------------------------------------------------


def _table(title: str | None, columns: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns under a header and a rule: plain text, fast for tens of thousands of rows."""
    rows = [[_t(cell) for cell in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return " " + "   ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    out = [title] if title else []
    out += [line(columns), "\u2500" * (sum(widths) + 3 * len(widths) - 1)]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"


def _aliases(aliases: dict[str, int]) -> str:
    return ", ".join(f"{a}={v}" for a, v in aliases.items()) or "-"


def models_text(view: dict[str, Any]) -> str:
    if not view["models"]:
        return f"no models in {view['source']}\n"
    rows = [
        [m["name"], str(len(m["versions"])), str(m["latest"] or "-"), _aliases(m["aliases"]), ", ".join(m["owners"])]
        for m in view["models"]
    ]
    return _table(None, ["model", "versions", "latest", "aliases", "owners"], rows)


#: metric columns `show MODEL` draws at most (the first metrics to appear); --json has every one
METRIC_COLUMNS = 4


def _metric_cells(values: dict[str, float] | None, names: list[str]) -> list[str]:
    """One version's metric cells: blank where it has no such metric, '?' when its eval.yaml is unreadable."""
    if values is None:
        return ["?"] * len(names)
    return [f"{values[n]:.4g}" if n in values else "" for n in names]


def model_text(view: dict[str, Any]) -> str:
    out = [f"{view['name']}: {view['description']}", f"owners: {', '.join(view['owners'])}"]
    if view["tags"]:
        out.append("tags: " + ", ".join(f"{k}={v}" for k, v in view["tags"].items()))
    out.append("aliases: " + (_aliases({a: x["version"] for a, x in view["aliases"].items()})))
    metrics = view.get("metrics", [])[:METRIC_COLUMNS]
    rows = [
        [
            str(v["version"]),
            v["created_at"],
            v["created_by"],
            ", ".join(v["aliases"]) or "-",
            *_metric_cells(v.get("metrics"), metrics),
            f"deprecated: {v['deprecated']}" if v["deprecated"] else v["description"],
        ]
        for v in view["versions"]
    ]
    columns = ["version", "created", "by", "aliases", *metrics, "description"]
    text = "\n".join(out) + "\n\n" + _table(None, columns, rows)
    hidden = view.get("metrics", [])[METRIC_COLUMNS:]
    if hidden:
        text += f"{len(hidden)} more metrics not shown: {', '.join(hidden)} (--json has them all)\n"
    if view.get("timeline"):
        rows = [
            [
                e["time"].replace("T", " ").rstrip("Z"),
                f"@{e['alias']}",
                f"{e['from'] or '-'} -> {e['to'] or '-'}",
                e["kind"],
                f"#{e['pr']}" if e["pr"] else "-",
                e["author"],
                e["commit"][:10],
            ]
            for e in view["timeline"]
        ]
        text += "\nalias timeline (latest first):\n" + _table(
            None, ["time (UTC)", "alias", "change", "kind", "PR", "author", "commit"], rows
        )
    return terminal_safe(text)


def version_text(view: dict[str, Any]) -> str:
    a, lin = view["artifact"], view["lineage"]
    out = [
        f"{view['model']} version {view['version']}: {view['description']}",
        f"created:    {view['created_at']} by {view['created_by']}",
        f"aliases:    {', '.join(view['aliases']) or '-'}",
    ]
    if view["deprecated"]:
        out.append(f"DEPRECATED: {view['deprecated']}")
    out += [
        f"artifact:   {a['uri']}",
        f"            sha256 {a['sha256']}, {a['size']:,} bytes, {a['format']}",
        f"lineage:    run {lin.get('run_id')}, code {lin.get('code_repo')}@{str(lin.get('git_sha'))[:12]}",
        f"dataset:    {lin['dataset']['uri']} (sha256 {lin['dataset']['sha256'][:12]}...)",
        "evidence:   " + (", ".join(f"{k}={v}" for k, v in view["evidence"].items() if v) or "-"),
    ]
    ev = view["eval"]
    if ev:
        out.append(f"evaluation: on {ev['dataset']['name']}")
        out.append(_table(None, ["metric", "value"], [[k, f"{v:g}"] for k, v in ev["metrics"].items()]).rstrip("\n"))
    return terminal_safe("\n".join(out) + "\n")


def resolved_text(view: dict[str, Any]) -> str:
    a = view["artifact"]
    return terminal_safe(
        f"{view['uri']} -> version {view['version']}\n"
        f"  uri:    {a['uri']}\n"
        f"  sha256: {a['sha256']}\n"
        f"  size:   {a['size']:,} bytes ({a['format']})\n"
        + (f"  path:   {view['path']} (inside the artifact)\n" if view.get("path") else "")
    )


# --- history --------------------------------------------------------------------


def _approvers_text(e: dict[str, Any]) -> str:
    if e["approvers"] == "unknown":
        return "unknown"
    return ", ".join(a["login"] for a in e["approvers"]) or "-"


def _percent(p: float | None) -> str:
    return "-" if p is None else f"{p:g}%"


def _requests(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _rollout_text(e: dict[str, Any]) -> str:
    """A rollout event's change, in words: which candidate, in which mode, from which share to which."""
    r, kind = e["rollout"], e["kind"]
    arm = f"v{r['candidate']} {r['mode']}"
    before, after = r["from_percent"], r["to_percent"]
    notes = []
    if kind == "rollout-start":
        text = f"@{e['alias']} {arm} start at {_percent(after)} ({e['to'] or '-'} holds)"
    elif kind == "rollout-step":
        text = f"@{e['alias']} {arm} {_percent(before)} -> {_percent(after)}"
        if before is not None and after is not None and after < before:
            notes.append("step back")
    elif kind == "rollout-complete":
        text = f"@{e['alias']} {e['from'] or '-'} -> {e['to'] or '-'} ({arm} completed from {_percent(before)})"
    elif kind == "rollout-abort":
        text = f"@{e['alias']} {arm} {_percent(before)} -> stopped ({e['to'] or '-'} holds)"
    elif kind == "rollout-evidence":
        ev = r["evidence"] or {}
        req = ev.get("requests") or {}
        text = (
            f"@{e['alias']} {arm} {_percent(after)} evidence: "
            f"{_requests(req.get('candidate'))} vs {_requests(req.get('holder'))} requests"
        )
    else:  # a promotion or rollback that ends or resumes a rollout (a revert of a completion resumes it)
        if after is None:
            what = f"ended at {_percent(before)}"
        else:
            what = f"{'resumed ' if e['reverts'] else ''}at {_percent(after)}"
        text = f"@{e['alias']} {e['from'] or '-'} -> {e['to'] or '-'}"
        notes.append(f"rollout of {arm} {what}")
    if e["reverts"]:
        notes.append(f"revert of {str(e['reverts'])[:10]}")
    if r["problem"]:
        notes.append(str(r["problem"]))
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _change_text(e: dict[str, Any]) -> str:
    if e.get("rollout"):
        return _rollout_text(e)
    if e["alias"]:
        return f"@{e['alias']} {e['from'] or '-'} -> {e['to'] or '-'}"
    return f"v{e['to']}" if e["to"] else ""


_HISTORY_COLUMNS = ["time (UTC)", "kind", "model", "change", "PR", "author", "merged by", "approved by", "commit"]


def _history_row(e: dict[str, Any]) -> list[str]:
    """One event's cells, before the format's own escaping (the time as recorded, the commit in full)."""
    return [
        e["time"],
        e["kind"],
        e["model"] or "(policy)",
        _change_text(e),
        f"#{e['pr']}" if e["pr"] else "-",
        e["author"],
        e["merger"] or "-",
        _approvers_text(e),
        e["commit"],
    ]


def history_text(events: list[dict[str, Any]], ref: str) -> str:
    if not events:
        return f"no registry events on {ref}\n"
    rows = []
    for e in events:
        row = _history_row(e)
        rows.append([row[0].replace("T", " ").rstrip("Z"), *row[1:-1], row[-1][:10]])
    return _table(None, _HISTORY_COLUMNS, rows)


def history_markdown(events: list[dict[str, Any]], ref: str) -> str:
    lines = [
        f"### Registry history of {md_code(ref)}",
        "",
        "| " + " | ".join(_HISTORY_COLUMNS) + " |",
        "|" + "---|" * len(_HISTORY_COLUMNS),
    ]
    for e in events:
        row = _history_row(e)
        lines.append("| " + " | ".join(_md_cell(x) for x in row[:-1]) + f" | {md_code(row[-1][:10])} |")
    return "\n".join(lines) + "\n"


def whois_text(
    model: str, alias: str, at: str, commit: str, version: int | None, rollout: dict[str, Any] | None
) -> str:
    """whois's answer: the version holding the alias then and, during a rollout, each version's share."""
    where = f"at {at} (commit {commit[:12]})"
    if version is None:
        return terminal_safe(f"{model}@{alias} was not set {where}\n")
    line = f"{model}@{alias} was version {version} {where}"
    if rollout is None:
        return terminal_safe(line + "\n")
    started = f", started {rollout['started_at']}" if rollout.get("started_at") else ""
    lines = [f"{line}, rolling out version {rollout['candidate']} ({rollout['mode']}{started}):"]
    for share in rollout["shares"]:
        what = (
            f"served {_percent(share['percent'])} of the requests"
            if share["traffic"] == "served"
            else f"received a mirrored {_percent(share['percent'])} of the requests and answered none"
        )
        lines.append(f"  version {share['version']} ({share['role']}): {what}")
    return terminal_safe("\n".join(lines) + "\n")


# --- rollout status -------------------------------------------------------------


def rollout_status_text(view: dict[str, Any]) -> str:
    """``mlgate rollout status``: where a rollout stands, the next step, what it needs, the evidence."""
    name = f"{view['model']}@{view['alias']}"
    holder = f"v{view['version']}" if view["version"] is not None else "(unset)"
    lines = [f"{name} on {view['base']} ({view['commit'][:12]}): holder {holder}"]
    r = view["rollout"]
    if r is None:
        lines.append("  no rollout under way")
    else:
        since = f", since {r['started_at']}" if r.get("started_at") else ""
        lines.append(f"  rollout: {r['mode']} of v{r['candidate']} at {_pct(r['percent'])}{since}")
    policy = view["policy"]
    if policy is None:
        lines.append("  policy: no rollout gate for this alias (a rollout is optional; steps are free)")
    else:
        online = [f"min {policy['min_requests']:,} requests", f"min {policy['min_hours']:g} hours"]
        for metric, b in policy["metrics"].items():
            parts = [f"{k} {v:g}" for k, v in b.items() if v is not None]
            online.append(f"{metric} ({', '.join(parts)})")
        steps = ", ".join(f"{s:g}" for s in policy["steps"])
        lines.append(f"  policy [{policy['key']}]: steps {steps}; online: {'; '.join(online)}")
    nxt = view["next"]
    target = f" to {_pct(nxt['percent'])}" if nxt.get("percent") is not None else ""
    lines.append(f"  next: {nxt['action']}{target}: {nxt['command']}")
    lines.append(f"  needs: {nxt['needs']}")
    ev = view["evidence"]
    if ev is not None:
        if not ev["present"]:
            lines.append(f"  evidence: missing ({ev['path']})")
        else:
            at = "" if ev["current"] else " (not for the current step, holder or mode)"
            lines.append(
                f"  evidence: {ev['path']} at {_pct(ev['percent'])} vs v{ev['holder']}, {ev['window']['start']} to "
                f"{ev['window']['end']}, {ev['requests']['candidate']:,} candidate requests{at}"
            )
        if ev.get("passes") is not None:
            lines.append(f"  online gate: {'PASS' if ev['passes'] else 'FAIL'}")
            for c in ev.get("checks", []):
                lines.append(f"    {c['status']:<8} {c['gate']}: {c['reason']}")
    return "\n".join(_t(line) for line in lines) + "\n"
