"""Every command's --help: a summary, options, and examples printed exactly as written (B1).

Click re-wraps help text into paragraphs unless a ``\\b`` marker line protects them, and a renderer that
does not know the marker prints it. The examples are therefore taken out of the text click wraps
(:mod:`mlgate.cli.helptext`) and written back line by line: at any width, no marker reaches the screen and
no example is joined to its neighbour.
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from mlgate.cli import cli
from mlgate.cli.helptext import commands_of, split_examples


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = [(prefix, group)]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append(((*prefix, name), command))
    return found


COMMANDS = _commands()


def _help(path: tuple[str, ...], width: int) -> str:
    ran = CliRunner().invoke(cli, [*path, "--help"], terminal_width=width)
    assert ran.exit_code == 0, ran.output
    return ran.output


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "mlgate")
@pytest.mark.parametrize("width", [40, 80, 200])
def test_examples_are_printed_line_by_line_at_any_width(path: tuple[str, ...], width: int) -> None:
    command = dict(COMMANDS)[path]
    examples = getattr(command, "examples", [])
    assert examples, f"`mlgate {' '.join(path)} --help` has no example"
    out = _help(path, width)
    assert "\\b" not in out and "\b" not in out
    lines = out.splitlines()
    for example in examples:
        if example:
            assert any(line.strip() == example.strip() for line in lines), (example, out)
    header = next(i for i, line in enumerate(lines) if line.strip() in ("Example:", "Examples:"))
    assert lines[header + 1].strip() == examples[0].strip()


def test_the_summary_is_still_wrapped_to_the_terminal() -> None:
    out = _help(("register",), 40)
    summary = out.split("Example")[0]
    assert max(len(line) for line in summary.splitlines()) <= 40


def test_the_command_list_shows_short_help_without_examples() -> None:
    out = _help((), 100)
    listing = out.split("Commands:")[1]
    assert "register" in listing and "mlgate register" not in listing


def test_split_examples_keeps_text_after_the_block() -> None:
    doc = """Summary.

    \b
    Examples:
      mlgate a --x \\
        --y
      mlgate b

    Notes after.
    """
    text, examples = split_examples(doc)
    assert text == "Summary.\n\nNotes after."
    assert examples == ["mlgate a --x \\", "  --y", "mlgate b"]
    assert commands_of(examples) == ["mlgate a --x --y", "mlgate b"]


@given(
    st.lists(
        st.one_of(
            st.sampled_from(["Example:", "Examples:", "\b", "\\b", "", "  mlgate x \\", "    --y"]),
            st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40),
        ),
        max_size=12,
    )
)
def test_split_examples_loses_no_line(lines: list[str]) -> None:
    import inspect

    doc = "Summary.\n" + "\n".join(lines)
    text, examples = split_examples(doc)
    kept = {line.strip() for line in text.split("\n") + examples}
    for line in inspect.cleandoc(doc).split("\n"):
        if line.strip() and line.strip() not in ("\b", "\\b", "Example:", "Examples:"):
            assert line.strip() in kept, (line, text, examples)


def test_shell_completion_as_the_readme_sets_it_up() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    mlgate = str(Path(sys.executable).parent / "mlgate")  # the console script beside this python
    for shell in ("bash", "zsh", "fish"):
        ran = subprocess.run(
            [mlgate], env={**os.environ, "_MLGATE_COMPLETE": f"{shell}_source"}, capture_output=True, text=True
        )
        assert ran.returncode == 0 and "mlgate" in ran.stdout, (shell, ran.stderr)
    words = {"COMP_WORDS": "mlgate pr cl", "COMP_CWORD": "2", "_MLGATE_COMPLETE": "bash_complete"}
    ran = subprocess.run([mlgate], env={**os.environ, **words}, capture_output=True, text=True)
    assert ran.stdout.split() == ["plain,close"]
