"""An import's result as text (the terminal), Markdown (the pull request's description) and JSON (``--json``).

Names, tags, descriptions and tag messages come from the source registry, written by anyone: they are
escaped as the rest of mlgate escapes untrusted text (:func:`mlgate.render.report.terminal_safe`,
:func:`~mlgate.render.report.md_text`). Long lists are cut in text and Markdown (``--json`` has everything),
so a registry of any size gives a report of bounded size.
"""

from __future__ import annotations

from typing import Any

from mlgate.interop.importers.common import ImportResult, Note
from mlgate.render.report import md_code, md_text, terminal_safe

#: at most this many lines per section in text and Markdown
SHOWN = 30
_LABEL = {"mlflow": "MLflow", "gto": "GTO"}
#: the report's sections of notes, in order: (kinds, heading)
_SECTIONS = (
    (("failed", "conflict"), "Could not be imported"),
    (("lost",), "Not carried over (no home in mlgate)"),
    (("placeholder",), "Placeholders (not recorded in the source)"),
    (("renamed",), "Renamed"),
    (("skipped",), "Already in the registry"),
)


def import_dict(result: ImportResult) -> dict[str, Any]:
    """The stable JSON shape of an import."""
    p = result.proposal
    return {
        "source": result.source,
        "location": result.location,
        "ok": result.ok,
        "models": list(result.models),
        "imported": [i.to_dict() for i in result.imported],
        "aliases": [a.to_dict() for a in result.aliases],
        "deprecated": [{"model": m, "version": v, "reason": r} for m, v, r in result.deprecated],
        "notes": [n.to_dict() for n in result.notes],
        "version_mapping": result.extra.get("version_mapping"),
        "stage_history": result.extra.get("stage_history"),
        "open_pull_request": result.extra.get("open_pull_request"),
        "branch": p.branch if p else None,
        "commit": p.commit if p else None,
        "pull_request": None if p is None or p.pr is None else {"number": p.pr.number, "url": p.pr.url},
    }


def _where(n: Note) -> str:
    if n.model is None:
        return ""
    return f"{n.model}" + (f" v{n.version}" if n.version is not None else "") + ": "


def _cut(lines: list[str], total: int, more: str) -> list[str]:
    return lines + ([more.format(total - SHOWN)] if total > SHOWN else [])


def import_text(result: ImportResult) -> str:
    label = _LABEL.get(result.source, result.source)
    out = [f"import from {label} ({result.location}): {len(result.models)} model(s) read"]
    if result.imported:
        out.append(f"imported {len(result.imported)} version(s):")
        rows = [
            f"  {i.model} v{i.version}  <- {label} {i.source_version}  sha256 {i.sha256[:12]}  {i.size:,} bytes"
            for i in result.imported[:SHOWN]
        ]
        out += _cut(rows, len(result.imported), "  ... and {} more (--json lists all)")
    if result.aliases:
        out.append("aliases:")
        rows = [
            f"  {a.model}@{a.alias} -> v{a.version}"
            + (f" (was v{a.previous})" if a.previous else "")
            + f"  from {a.origin}"
            for a in result.aliases[:SHOWN]
        ]
        out += _cut(rows, len(result.aliases), "  ... and {} more (--json lists all)")
    if result.deprecated:
        out.append("deprecated:")
        out += _cut(
            [f"  {m} v{v}: {r}" for m, v, r in result.deprecated[:SHOWN]], len(result.deprecated), "  ... and {} more"
        )
    for key, text in _extra_text(result):
        out.append(f"{key}:")
        out += text
    for kinds, heading in _SECTIONS:
        notes = result.notes_of(*kinds)
        if not notes:
            continue
        out.append(f"{heading.lower()} ({len(notes)}):")
        out += _cut(
            [f"  {_where(n)}{n.detail}" for n in notes[:SHOWN]], len(notes), "  ... and {} more (--json lists all)"
        )
    p = result.proposal
    pending = result.extra.get("open_pull_request")
    if pending:
        out.append(
            f"pull request #{pending} (branch {result.extra.get('open_branch')}) already proposes exactly this import: "
            "nothing to do until it is merged"
        )
    elif p is None:
        out.append("nothing new to import: no branch or pull request was created")
    else:
        out.append(
            f"{p.title}: branch {p.branch} ({p.commit[:12]}) on top of {p.base}"
            + (" (left by an earlier identical run, taken over)" if p.reused else "")
        )
        if p.pr is not None:
            out.append(f"pull request #{p.pr.number}: {p.pr.url}")
    if not result.ok:
        out.append(f"{len(result.notes_of('failed', 'conflict'))} item(s) could not be imported (listed above)")
    return terminal_safe("\n".join(out)) + "\n"


def _extra_text(result: ImportResult) -> list[tuple[str, list[str]]]:
    out = []
    mapping = result.extra.get("version_mapping")
    if mapping:
        rows = [f"  {m['model']} {m['source_version']} -> v{m['version']}" for m in mapping[:SHOWN]]
        out.append(("version mapping", _cut(rows, len(mapping), "  ... and {} more (--json lists all)")))
    history = result.extra.get("stage_history")
    if history:
        rows = [
            f"  {h['time']}  {h['model']}  {h['action']} {h['stage']} {h['source_version']}  by {h['by']}  ({h['tag']})"
            for h in history[-SHOWN:]
        ]
        more = [f"  ... {len(history) - SHOWN} earlier event(s) (--json lists all)"] if len(history) > SHOWN else []
        out.append(("stage history (oldest first)", more + rows))
    return out


def import_markdown(result: ImportResult) -> str:
    """The pull request's description: what is imported, and everything that was not."""
    label = _LABEL.get(result.source, result.source)
    out = [f"Imports from **{label}** ({md_code(result.location)}) with `mlgate import {result.source}`.", ""]
    if result.imported:
        out += ["| model | version | from | sha256 | size |", "|---|---|---|---|---|"]
        out += [
            f"| {md_code(i.model)} | {i.version} | {md_code(i.source_version)} | `{i.sha256[:12]}` | {i.size:,} |"
            for i in result.imported[:SHOWN]
        ]
        if len(result.imported) > SHOWN:
            out.append(f"| | | | and {len(result.imported) - SHOWN} more | |")
        out.append("")
    if result.aliases:
        out += ["| alias | version | was | from |", "|---|---|---|---|"]
        out += [
            f"| {md_code(f'{a.model}@{a.alias}')} | {a.version} | {a.previous or '-'} | {md_text(a.origin)} |"
            for a in result.aliases[:SHOWN]
        ]
        out += ["", "Aliases are gated as any promotion: the gate report of each is in the `validate` check.", ""]
    if result.deprecated:
        out += [f"- deprecated {md_code(m)} v{v}: {md_text(r)}" for m, v, r in result.deprecated[:SHOWN]] + [""]
    history = result.extra.get("stage_history")
    if history:
        out += [
            "<details><summary>Stage history in GTO</summary>",
            "",
            "| when | model | change | by | tag |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| {md_text(h['time'])} | {md_code(h['model'])} | {md_text(h['action'])} {md_code(h['stage'])} "
            f"{md_code(h['source_version'])} | {md_text(h['by'])} | {md_code(h['tag'])} |"
            for h in history[-SHOWN:]
        ]
        out += ["", "</details>", ""]
    for kinds, heading in _SECTIONS:
        notes = result.notes_of(*kinds)
        if not notes:
            continue
        out += [f"**{heading}** ({len(notes)})", ""]
        out += [f"- {md_text(_where(n) + n.detail)}" for n in notes[:SHOWN]]
        if len(notes) > SHOWN:
            out.append(f"- and {len(notes) - SHOWN} more (`--json` lists all)")
        out.append("")
    return "\n".join(out)
