"""Model cards and Markdown evidence as HTML: CommonMark (markdown-it-py) with raw HTML off.

A card is written by whoever opens a pull request, so nothing in it may run in a reader's browser: raw HTML
is shown as text (``html: False``), markdown-it's link check refuses ``javascript:``, ``vbscript:``, ``file:``
and ``data:`` links (but for a few image types), and images are shown as links, never loaded (an image would
be fetched from wherever the card points, and the catalog fetches nothing from the network).
"""

from __future__ import annotations

from functools import lru_cache
from html import escape
from typing import Any

_SAFE_SCHEMES = ("http://", "https://", "mailto:", "#", "/", "./", "../")


def _renderer() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")

    def image(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tok = tokens[idx]
        src = str(tok.attrGet("src") or "")
        alt = escape(tok.content or "image")
        return f'<a class="card-image" href="{escape(src)}" rel="noopener noreferrer nofollow">[image: {alt}]</a>'

    def link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tok = tokens[idx]
        href = str(tok.attrGet("href") or "")
        if not href.lower().startswith(_SAFE_SCHEMES) and ":" in href.split("/", 1)[0]:
            tok.attrSet("href", "#")  # an unknown scheme: keep the text, drop the target
        tok.attrSet("rel", "noopener noreferrer nofollow")
        renderer: Any = md.renderer
        return str(renderer.renderToken(tokens, idx, options, env))

    md.add_render_rule("image", image)
    md.add_render_rule("link_open", link_open)
    return md


@lru_cache(maxsize=1)
def _md() -> Any:
    return _renderer()


@lru_cache(maxsize=256)
def render(text: str) -> str:
    """``text`` (Markdown) as safe HTML; identical cards (templates) are rendered once."""
    return str(_md().render(text))
