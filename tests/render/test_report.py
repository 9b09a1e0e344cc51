"""Rendering, table by table: untrusted text made safe for a terminal, for Markdown and for JSON, and the
verdict line of a report. Reports are built in memory: no git, no files.

Markdown is checked against a real renderer (markdown-it, in the GitHub-flavoured mode mlgate itself reads cards
with): what a pull request comment shows must be the text as written, never markup.
"""

from __future__ import annotations

import html
import json

import pytest
from markdown_it import MarkdownIt

from mlgate.core.findings import Finding, Report
from mlgate.render.report import md_code, md_text, report_dict, report_markdown, report_text, terminal_safe, to_json

ESC = "\x1b"


@pytest.mark.parametrize(
    ("text", "safe", "one_line"),
    [
        ("fraud-detector", "fraud-detector", "fraud-detector"),
        ("café ✓", "café ✓", "café ✓"),  # printable letters of any script stay
        (f"{ESC}[31mred", "\\x1b[31mred", "\\x1b[31mred"),  # a colour that could repaint the verdict
        (f"{ESC}]8;;http://x\x07link", "\\x1b]8;;http://x\\x07link", "\\x1b]8;;http://x\\x07link"),  # OSC 8
        ("abc\u202edcba", "abc\\u202edcba", "abc\\u202edcba"),  # right-to-left override
        ("a\x85b\u2028c", "a\\x85b\\u2028c", "a\\x85b\\u2028c"),  # C1 next-line, line separator
        ("a\rb", "a\\x0db", "a\\x0db"),  # a carriage return could overwrite the start of the line
        ("one\ntwo", "one\ntwo", "one\\ntwo"),
        ("a\tb", "a\tb", "a b"),
        (42, "42", "42"),
    ],
    ids=["plain", "unicode", "colour", "hyperlink", "bidi", "c1", "carriage-return", "newline", "tab", "number"],
)
def test_terminal_safe(text: object, safe: str, one_line: str) -> None:
    assert terminal_safe(text) == safe
    assert terminal_safe(text, newlines=False) == one_line
    assert ESC not in one_line and "\n" not in one_line and "\r" not in one_line


def _inline_html(markdown: str) -> str:
    """What GitHub would show for ``markdown`` in a paragraph: the HTML inside the <p>."""
    rendered = MarkdownIt("commonmark").enable("table").render(markdown).strip()
    assert rendered.startswith("<p>") and rendered.endswith("</p>"), rendered
    return rendered[3:-4]


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain words", "plain words"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("<!-- hidden -->", "&lt;\\!-- hidden --&gt;"),
        ("[click](https://evil.example)", "\\[click\\](https://evil.example)"),
        ("![pixel](https://evil.example/p.png)", "\\!\\[pixel\\](https://evil.example/p.png)"),
        ("*bold* _em_ ~~gone~~", "\\*bold\\* \\_em\\_ \\~\\~gone\\~\\~"),
        ("`code`", "\\`code\\`"),
        ("a | b", "a \\| b"),
        ("back\\slash", "back\\\\slash"),
        ("a & b", "a &amp; b"),
        ("line one\nline two", "line one\\\\nline two"),  # one line: a newline could start a heading or a list
    ],
    ids=["plain", "html", "comment", "link", "image", "emphasis", "code", "pipe", "backslash", "ampersand", "newline"],
)
def test_md_text_is_inert(text: str, escaped: str) -> None:
    assert md_text(text) == escaped
    shown = _inline_html("x " + md_text(text))  # md_text always follows other text on its line
    assert shown == "x " + html.escape(terminal_safe(text, newlines=False), quote=False)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("models:/fraud@champion", "`models:/fraud@champion`"),
        ("a`b", "``a`b``"),  # a fence longer than any run of backticks inside
        ("``x", "``` ``x ```"),  # padded: a backtick at an edge would join the fence
        ("x`", "`` x` ``"),
        ("a|b", "`a\\|b`"),  # a pipe cannot split a table cell
        ("   ", "`     `"),  # all spaces: shown as they are (CommonMark strips nothing from a blank span)
        ("two\nlines", "`two\\nlines`"),
    ],
    ids=["plain", "backtick-inside", "backticks-first", "backtick-last", "pipe", "blank", "newline"],
)
def test_md_code_cannot_be_closed_from_inside(text: str, code: str) -> None:
    assert md_code(text) == code
    if "|" not in text and text.strip():  # outside a table, a renderer shows the span's content as written
        shown = _inline_html(md_code(text))
        assert shown == f"<code>{html.escape(terminal_safe(text, newlines=False), quote=False)}</code>"


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"name": "café"}, '{\n  "name": "café"\n}\n'),  # readable, not \\u00e9
        ({"name": f"{ESC}[2J"}, '{\n  "name": "\\u001b[2J"\n}\n'),  # json escapes C0 itself
        ({"name": "a\x85b"}, '{\n  "name": "a\\u0085b"\n}\n'),  # C1: escaped here
        ({"name": "x\u202ey"}, '{\n  "name": "x\\u202ey"\n}\n'),  # bidi override: escaped here
        ([1, None, True], "[\n  1,\n  null,\n  true\n]\n"),
    ],
    ids=["unicode", "c0", "c1", "bidi", "list"],
)
def test_to_json_escapes_what_terminals_obey_and_stays_json(data: object, text: str) -> None:
    assert to_json(data) == text
    assert json.loads(to_json(data)) == data


def _finding(path: str, rule: str = "MG204", severity: str = "error", line: int | None = 3) -> Finding:
    return Finding(path, line, rule, "alias 'champion' points at version 9, which does not exist", severity=severity)


ALIAS = "registry/models/fraud-detector/aliases/champion.yaml"


@pytest.mark.parametrize(
    ("report", "last_line", "heading"),
    [
        (
            Report("working tree", files_checked=1),
            "OK: no problems (1 file checked; all of working tree)",
            "passed :white_check_mark:",
        ),
        (
            Report("pr (abc)", "main (def)", "incremental", 2, [_finding(ALIAS)]),
            "FAILED: 1 problem (2 files checked; changes in pr (abc) against main (def))",
            "1 problem :x:",
        ),
        (
            Report("main", files_checked=48, findings=[_finding(ALIAS), _finding("registry/x.yaml", "MG101")]),
            "FAILED: 2 problems (48 files checked; all of main)",
            "2 problems :x:",
        ),
        (
            Report("main", files_checked=3, findings=[_finding(ALIAS, "MG406", "pending", None)]),
            "NOT YET: 1 gate pending (3 files checked; all of main)",
            "1 gate pending :hourglass:",
        ),
        (
            Report(
                "main",
                findings=[_finding(ALIAS), _finding(ALIAS, "MG406", "pending"), _finding("b", "MG406", "pending")],
            ),
            "FAILED: 1 problem, 2 gates pending (0 files checked; all of main)",
            "1 problem :x:, 2 pending",
        ),
    ],
    ids=["ok", "incremental", "two-problems", "pending", "both"],
)
def test_the_verdict_in_every_format(report: Report, last_line: str, heading: str) -> None:
    text = report_text(report)
    assert text.splitlines()[-1] == last_line
    assert report_markdown(report).splitlines()[0] == f"### mlgate validate: {heading}"
    doc = report_dict(report)
    assert doc["ok"] is report.ok is (last_line.startswith("OK"))
    assert doc["counts"] == {
        "error": sum(f.severity == "error" for f in report.findings),
        "pending": sum(f.severity == "pending" for f in report.findings),
        "warning": 0,
    }
    for f in report.findings:  # every finding is listed once, with its place
        where = f"{f.path}:{f.line}" if f.line else f.path
        assert sum(line.startswith(f"{where}: {f.rule} ") for line in text.splitlines()) == 1


def test_a_hostile_path_and_message_reach_neither_terminal_nor_markdown_raw() -> None:
    hostile = Finding(f"registry/{ESC}[8mhidden.yaml", 1, "MG101", "<b>bold</b> [x](http://evil.example)\nMG000 fake")
    report = Report("main", files_checked=1, findings=[hostile])
    text = report_text(report)
    assert ESC not in text and "\\x1b[8mhidden" in text
    assert len(text.splitlines()) == 2  # the finding and the verdict: the message's newline made no fake line
    markdown = report_markdown(report)
    rendered = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<b>" not in rendered and "<a " not in rendered and ESC not in rendered
