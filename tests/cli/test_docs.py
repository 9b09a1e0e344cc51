"""The README documents what the code does: every rule id, the quick-start commands, every command."""

from __future__ import annotations

from mlgate.check.rules import RULES
from mlgate.cli import cli
from tests import ROOT

README = (ROOT / "README.md").read_text()


def test_every_rule_is_in_the_readme_table() -> None:
    for rid, rule in RULES.items():
        assert f"| {rid} | {rule.name} | {rule.doc.replace(chr(92), chr(92) * 2)} |" in README, rid


def test_quick_start_commands() -> None:
    assert "pip install . && mlgate validate && mlgate demo" in README
    assert "python -m pytest" in README


def test_every_command_is_in_the_readme() -> None:
    for name in cli.commands:
        assert f"`mlgate {name}" in README, name


def test_security_policy_covers_the_threat_model() -> None:
    text = (ROOT / ".github" / "SECURITY.md").read_text()
    for heading in (
        "## What mlgate defends against",
        "## What mlgate relies on GitHub for",
        "## What mlgate does not defend against",
        "## Reporting a vulnerability",
    ):
        assert heading in text
    for rule in ("MG001", "MG208", "MG301", "MG406", "MG501"):
        assert rule in text
