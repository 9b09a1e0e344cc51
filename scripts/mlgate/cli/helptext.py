"""Help text whose examples come out as written, whatever the terminal width or the click version.

Every command's docstring ends with an ``Example:`` (or ``Examples:``) header and indented command lines.
Click would re-wrap them into one paragraph unless a ``\\b`` line precedes them, a convention that other
renderers (and other click versions) print literally. So the examples are taken out of the help text here,
kept on the command as :attr:`Command.examples`, and written back line by line, never wrapped; the tests
run them (tests/cli/test_examples.py).
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import click

_HEADER = re.compile(r"^Examples?:\s*$")
_NO_WRAP = "\b"


def split_examples(doc: str | None) -> tuple[str, list[str]]:
    """``doc`` without its examples block, and the block's lines (dedented, continuation lines kept).

    The block starts at an ``Example:``/``Examples:`` line at the left margin and runs over the indented
    (or blank) lines after it; a ``\\b`` marker line before it, with or without the backslash escaped,
    is dropped.
    """
    if not doc:
        return doc or "", []
    lines = inspect.cleandoc(doc).split("\n")
    start = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    if start is None:
        return "\n".join(line for line in lines if line.strip() not in (_NO_WRAP, "\\b")), []
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith((" ", "\t"))):
        end += 1
    block = lines[start + 1 : end]
    while block and not block[-1].strip():
        block.pop()
    margin = min((len(b) - len(b.lstrip()) for b in block if b.strip()), default=0)
    examples = [b[margin:].rstrip() for b in block]
    before = lines[:start]
    while before and before[-1].strip() in ("", _NO_WRAP, "\\b"):
        before.pop()
    rest = [line for line in before + [""] + lines[end:] if line.strip() not in (_NO_WRAP, "\\b")]
    return "\n".join(rest).strip("\n"), examples


def commands_of(example_lines: list[str]) -> list[str]:
    """The shell commands of an examples block: continuation lines (ending in a backslash) joined."""
    out: list[str] = []
    pending = ""
    for line in example_lines:
        if not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1].rstrip() + " "
            continue
        out.append((pending + line.strip()) if pending else line.strip())
        pending = ""
    if pending:
        out.append(pending.strip())
    return out


class _Examples:
    """Mixin: take the examples out of ``help`` and write them back verbatim after it."""

    help: str | None
    examples: list[str]

    def _take_examples(self) -> None:
        self.help, self.examples = split_examples(self.help)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help_text(ctx, formatter)  # type: ignore[misc]
        if not self.examples:
            return
        formatter.write_paragraph()
        with formatter.indentation():
            header = "Example:" if len(commands_of(self.examples)) == 1 else "Examples:"
            formatter.write(f"{'':>{formatter.current_indent}}{header}\n")
            for line in self.examples:
                formatter.write(f"{'':>{formatter.current_indent + 2}}{line}\n" if line else "\n")


class Command(_Examples, click.Command):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._take_examples()


class Group(_Examples, click.Group):
    command_class = Command

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._take_examples()


Group.group_class = Group
