"""Findings (one problem each, with a stable rule id) and the report that collects them.

The rules themselves are defined beside their checks (see :mod:`mlgate.core.rules`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from mlgate.core.rules import Severity, rule_of


@dataclass(frozen=True, order=True)
class Finding:
    """One problem: which rule, which file (and line and field, when known), and what is wrong."""

    path: str
    line: int | None
    rule: str
    message: str
    field: str | None = None
    severity: Severity = Severity.ERROR

    @property
    def rule_name(self) -> str:
        """The rule's short name (``gate-regression``), or "" for an id no loaded module defines."""
        rule = rule_of(self.rule)
        return rule.name if rule is not None else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": str.__str__(self.rule),
            "name": self.rule_name,
            "severity": Severity(self.severity).value,
            "path": self.path,
            "line": self.line,
            "field": self.field,
            "message": self.message,
        }


def _sort_key(f: Finding) -> tuple[str, int, str, str, str]:
    return (f.path, f.line or 0, f.rule, f.field or "", f.message)


@dataclass
class Report:
    """Everything a validation run found. ``ok`` decides the exit code."""

    head: str
    base: str | None = None
    mode: str = "full"
    files_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    gates: list[Any] = field(default_factory=list)  # of mlgate.check.gates.AliasChange (a higher layer)

    def add(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    @property
    def errors(self) -> list[Finding]:
        return sorted({f for f in self.findings if f.severity == Severity.ERROR}, key=_sort_key)

    @property
    def pending(self) -> list[Finding]:
        """Gates not yet decided (approvals with no forge to ask): not a failure, not a pass either."""
        return sorted({f for f in self.findings if f.severity == Severity.PENDING}, key=_sort_key)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.pending

    def sorted_findings(self) -> list[Finding]:
        return sorted(set(self.findings), key=_sort_key)
