"""The README documents what the code does: every rule id, the quick-start commands, every command."""

from __future__ import annotations

from pathlib import Path

from mlgate.cli import cli
from mlgate.findings import RULES

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_rule_is_in_the_readme_table() -> None:
    for rid, (name, text) in RULES.items():
        assert f"| {rid} | {name} | {text.replace(chr(92), chr(92) * 2)} |" in README, rid


def test_quick_start_commands() -> None:
    assert "pip install . && mlgate validate && mlgate demo" in README
    assert "python -m pytest" in README


def test_every_command_is_in_the_readme() -> None:
    for name in cli.commands:
        assert f"`mlgate {name}" in README, name
