"""Compare any two versions of a model without a page per pair: ``models/NAME/compare/`` has two version pickers
and draws the comparison in the browser from ``models/NAME/compare/data.js``, one file per model written here
(each version's metrics, parameters, lineage, environment, artifact, card sections and evidence, and the
policy's direction of each metric). The data is a script file, not JSON read with ``fetch``, so the page works
opened from disk and under a Content-Security-Policy that allows no connection; the site's script inserts
every value as text (``textContent``), never as markup.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from mlgate.audit.compare import flat
from mlgate.catalog.html import e, page, script
from mlgate.core import layout
from mlgate.errors import InputError
from mlgate.registry.snapshot import Registry, describe_version

#: the most of a card read for its sections (the evidence gate's own limit)
CARD_LIMIT = 4 * 1024 * 1024


@lru_cache(maxsize=256)
def sections(markdown: str) -> tuple[tuple[str, bool], ...]:
    """A card's section headings, each with whether anything but headings follows it before the next heading.
    A single level-1 heading is the card's title, not a section (as :func:`mlgate.audit.compare.headings`)."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(markdown)
    found: list[list[Any]] = []  # [level, title, has content]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            found.append([int(tok.tag[1]), " ".join(tokens[i + 1].content.split()), False])
            i += 3  # heading_open, inline, heading_close
            continue
        if found:
            found[-1][2] = True
        i += 1
    if sum(level == 1 for level, _, _ in found) == 1:
        found = [h for h in found if h[0] > 1]
    seen: dict[str, bool] = {}
    for _, title, content in found:
        if title:
            seen[title] = seen.get(title, False) or content
    return tuple(seen.items())


def _card(reg: Registry, name: str, n: int) -> list[list[Any]] | None:
    path = layout.card_path(name, n)
    entry = reg.tree.entry(path)
    if entry is None or entry.kind != "file":
        return None
    try:
        text = reg.tree.read(path, limit=CARD_LIMIT).decode("utf-8", errors="replace")
    except InputError:
        return None
    return [[title, content] for title, content in sections(text)]


def _version(reg: Registry, name: str, n: int, described: dict[str, Any] | None) -> dict[str, Any]:
    v = described if described is not None else describe_version(reg, name, n)
    lineage = dict(v["lineage"])
    params, env = lineage.pop("params", {}), lineage.pop("environment", {})
    ev = v["eval"] or {}
    return {
        "v": n,
        "aliases": v["aliases"],
        "description": v["description"],
        "created_at": v["created_at"],
        "created_by": v["created_by"],
        "deprecated": v["deprecated"],
        "metrics": ev.get("metrics", {}),
        "params": flat(params),
        "environment": flat(env),
        "lineage": flat(lineage),
        "eval_dataset": flat(ev.get("dataset") or {}),
        "artifact": flat(v["artifact"]),
        "card": _card(reg, name, n),
        "evidence": sorted(k for k, f in v["evidence"].items() if f),
    }


def model_data(
    reg: Registry,
    view: dict[str, Any],
    directions: dict[str, tuple[str | None, str]],
    described: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the compare page draws from: every version of ``view``'s model (:func:`describe_model`);
    ``described``: versions the caller has described already (:func:`describe_version`), not read again."""
    name = view["name"]
    aliases = {a: info["version"] for a, info in view["aliases"].items()}
    numbers = [v["version"] for v in view["versions"]]
    return {
        "model": name,
        "champion": aliases.get("champion"),
        "latest": numbers[-1] if numbers else None,
        "directions": {m: [way, why] for m, (way, why) in directions.items()},
        "versions": [_version(reg, name, n, (described or {}).get(n)) for n in numbers],
    }


def compare_page(view: dict[str, Any], prebuilt: list[tuple[str, str]]) -> str:
    """``models/NAME/compare/index.html``: the pickers, filled in by the site's script from ``data.js``;
    ``prebuilt``: the pre-built comparisons (text, href from the model page), listed for a reader without
    JavaScript."""
    name = view["name"]
    aliases: dict[int, list[str]] = {}
    for a, info in view["aliases"].items():
        aliases.setdefault(info["version"], []).append(a)
    options = "".join(
        f'<option value="{v["version"]}">v{v["version"]}'
        + (f" ({e(', '.join(sorted(aliases[v['version']])))})" if v["version"] in aliases else "")
        + "</option>"
        for v in reversed(view["versions"])
    )
    links = "".join(f'<li><a href="../{href}">{e(text)}</a></li>' for text, href in prebuilt)
    body = (
        f"<h1>Compare versions of {e(name)}</h1>"
        '<div id="cmp-nojs"><p class="muted">Choosing two versions needs JavaScript.'
        + (f" Comparisons built in advance:</p><ul>{links}</ul>" if links else "</p>")
        + "</div>"
        '<form class="pickers" id="cmp-form" aria-label="Choose two versions" hidden>'
        f'<label for="cmp-a">Version a</label><select id="cmp-a">{options}</select>'
        f'<label for="cmp-b">Version b</label><select id="cmp-b">{options}</select>'
        '<button type="button" id="cmp-swap">Swap a and b</button>'
        '<a id="cmp-link" href="./">Link to this comparison</a></form>'
        '<p id="cmp-note" class="health bad" role="note" hidden></p>'
        '<div id="cmp-out" aria-live="polite"></div>'
    )
    crumbs = [("Models", "../../../index.html"), (e(name), "../"), ("Compare", "")]
    return page(f"Compare versions of {e(name)}", "../../../", body, crumbs=crumbs, scripts=["data.js"])


def write_model(
    reg: Registry,
    view: dict[str, Any],
    directions: dict[str, tuple[str | None, str]],
    prebuilt: dict[tuple[int, int], str],
    folder: Path,
    write: Callable[[Path, str], None],
    described: dict[int, dict[str, Any]] | None = None,
) -> None:
    """Write ``folder/compare/index.html`` and ``folder/compare/data.js`` for one model.

    ``folder``: ``models/NAME``; ``prebuilt``: the pre-built comparisons, (a, b) to their folder under it;
    ``write``: how the site writes a file (:func:`mlgate.catalog.collect.write`); ``described``: as
    :func:`model_data`'s (each version described once per build when the caller passes them).
    """
    write(folder / "compare" / "data.js", script("MLGATE_COMPARE", model_data(reg, view, directions, described)))
    write(
        folder / "compare" / "index.html",
        compare_page(view, [(f"v{a} vs v{b}", href) for (a, b), href in prebuilt.items()]),
    )
