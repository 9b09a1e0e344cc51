"""The page shell and the small helpers every page uses: escaping, numbers, links, tables.

Everything from the registry goes through :func:`e` (or :func:`url` for a link target); the page's markup
comes only from these functions and the literals in :mod:`mlgate.catalog.pages`.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any, Iterable, Sequence
from urllib.parse import quote

#: no inline script, nothing from another origin: a second wall behind the escaping
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
)


def e(value: Any) -> str:
    """Any value as HTML text (None as an em dash)."""
    return "\u2014" if value is None else escape(str(value), quote=True)


def url(value: Any) -> str:
    """A link target from registry data: http(s) only, else "" (the caller shows text, never a link)."""
    text = str(value or "")
    return escape(text, quote=True) if text.lower().startswith(("https://", "http://")) else ""


def seg(name: str) -> str:
    """A path segment (model names are already safe: lowercase letters, digits, ``.``, ``_``, ``-``)."""
    return quote(name, safe="")


def num(value: Any, sign: bool = False) -> str:
    """A number as written: whole numbers whole, floats short unless that would round them."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        short = format(value, "+g" if sign else "g")
        return short if float(short) == value else ("+" if sign and value >= 0 else "") + repr(value)
    if isinstance(value, int):
        return format(value, "+d" if sign else "d")
    return e(value)


def script(variable: str, value: Any) -> str:
    """``value`` as a script that sets ``window.<variable>``: JSON with every ``<`` escaped, so no text in it can
    close the script or open a comment, even if the file were ever inlined."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"window.{variable} = {text};\n"


def size(n: int) -> str:
    """A byte count for people: bytes, KiB, MiB or GiB."""
    if n < 1024:
        return f"{n:,} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def when(iso: str | None) -> str:
    """A time as a <time> element, shown to the minute."""
    if not iso:
        return "\u2014"
    text = str(iso)
    return f'<time datetime="{e(text)}">{e(text[:16].replace("T", " "))}</time>'


def table(caption: str, head: list[str], rows: Iterable[str], cls: str = "") -> str:
    """A table with a caption (screen readers announce it) and column headers."""
    ths = "".join(f'<th scope="col">{h}</th>' for h in head)
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<div class="scroll"><table{klass}><caption>{caption}</caption><thead><tr>{ths}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def dl(pairs: Iterable[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def page(
    title: str, root: str, body: str, *, crumbs: Sequence[tuple[str, str]] = (), scripts: Sequence[str] = ()
) -> str:
    """A whole page: landmarks (header, nav, main, footer), the search box, and the site's assets; ``scripts``:
    the page's own data files (relative to it), loaded before the site's script."""
    trail = "".join(
        f'<li><a href="{href}">{text}</a></li>' if href else f'<li aria-current="page">{text}</li>'
        for text, href in crumbs
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<title>{title} · mlgate catalog</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{root}assets/site.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="{root}index.html">mlgate catalog</a>
<nav aria-label="Site"><ul><li><a href="{root}index.html">Models</a></li><li><a href="{root}audit/index.html">Audit</a></li></ul></nav>
<div class="search" role="search">
<label for="q">Search models, versions, tags, owners</label>
<input id="q" type="search" autocomplete="off" placeholder="Search…" aria-controls="search-results">
<ul id="search-results" aria-live="polite" hidden></ul>
</div>
</header>
{f'<nav class="crumbs" aria-label="Breadcrumb"><ol>{trail}</ol></nav>' if trail else ""}
<main id="main">
{body}
</main>
<footer><p>Built by <code>mlgate catalog</code> from the registry in git. Every figure here is a file in the repository.</p></footer>
{"".join(f'<script src="{src}"></script>' for src in scripts)}<script src="{root}assets/site.js" data-root="{root}"></script>
</body>
</html>
"""
