"""Findings (one problem each, with a stable rule id) and the report that collects them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

#: rule id -> (short name, what it checks). Ids are stable: scripts grep for them.
RULES: dict[str, tuple[str, str]] = {
    "MG001": (
        "parse",
        "The file is not valid UTF-8 YAML, or uses a YAML feature mlgate refuses (tags, duplicate keys, merge keys, several documents, NaN, infinity), holds an integer of more than 18 digits, or a string or key with a control character (ESC, C1 controls, bidi overrides).",
    ),
    "MG002": (
        "limits",
        "The file is over 1 MiB, nested deeper than 64 levels, or expands past 100,000 values through aliases.",
    ),
    "MG101": ("schema", "A manifest does not match its JSON Schema in schemas/: a missing, unknown or mistyped field."),
    "MG102": ("kind", "apiVersion is not mlgate/v1, or kind is missing or not the kind this path holds."),
    "MG201": (
        "layout",
        "A file or folder under registry/ has no place in the registry layout (dotfiles such as .gitattributes included; only .gitkeep is allowed, outside version folders), its name is not a valid model, alias or version name, or it holds control characters or text not in Unicode NFC.",
    ),
    "MG202": (
        "name-mismatch",
        "A manifest's model, alias or version field disagrees with the folder or file it is in.",
    ),
    "MG203": ("missing-manifest", "A model folder has no model.yaml, or a version folder has no version.yaml."),
    "MG204": ("alias-target", "An alias points at a version that does not exist."),
    "MG205": ("deprecated-target", "An alias points at a version that model.yaml lists as deprecated."),
    "MG206": ("evidence-missing", "An evidence file named in version.yaml does not exist in the version folder."),
    "MG207": ("path-escape", "A path in a manifest is absolute, uses '..' or '\\', or otherwise leaves its folder."),
    "MG208": ("symlink", "A symlink, submodule or other non-regular file is in registry/."),
    "MG209": ("deprecated-unknown", "model.yaml deprecates a version that does not exist."),
    "MG301": (
        "immutable-modified",
        "A file of a version that exists on the base was modified, or a file (any file, whatever its name) was added to it.",
    ),
    "MG302": ("immutable-deleted", "A file of a version that exists on the base was deleted."),
    "MG303": ("immutable-renamed", "A file of a version that exists on the base was moved elsewhere."),
    "MG401": (
        "gate-evidence",
        "An alias change's target lacks evidence the policy requires (eval, card, or a named file), or it is empty (no visible text), over 4 MiB, or invalid.",
    ),
    "MG402": ("gate-metric", "A metric of the target's eval.yaml is missing or outside the policy's min/max bounds."),
    "MG403": (
        "gate-regression",
        "A metric regresses against the version holding the alias on the base by more than the policy's tolerance, or cannot be compared.",
    ),
    "MG404": (
        "gate-card",
        "The target's model card (read as CommonMark) lacks a heading the policy requires, or the section shows no visible text.",
    ),
    "MG405": ("gate-deprecated", "An alias change targets a version listed as deprecated in model.yaml."),
    "MG406": (
        "gate-approvals",
        "The pull request lacks the approvals the policy requires (or they are pending: no forge to ask).",
    ),
    "MG501": (
        "policy-approval",
        "Something that decides how pull requests are judged changed without the approval of the base policy's admins: registry/policy.yaml, a CODEOWNERS file, anything under .github/ (workflows, the pinned validator in mlgate-requirements.txt), a .gitattributes at any depth, .gitmodules, .lfsconfig, or a path the base policy's protect list names.",
    ),
    "MG502": ("policy-loosened", "A model.yaml policy loosens the registry policy instead of tightening it."),
    "MG503": (
        "policy-unreadable",
        "The base branch's registry/policy.yaml cannot be read, so changes cannot be judged.",
    ),
}


#: rule families, by the hundreds digit of the id
FAMILIES = {"0": "parse", "1": "schema", "2": "integrity", "3": "immutability", "4": "gate", "5": "policy"}


def family(rule: str) -> str:
    """The family of a rule id (``MG403`` -> ``gate``): what kind of check it is."""
    return FAMILIES[rule[2]]


@dataclass(frozen=True, order=True)
class Finding:
    """One problem: which rule, which file (and line and field, when known), and what is wrong."""

    path: str
    line: int | None
    rule: str
    message: str
    field: str | None = None
    severity: str = "error"

    @property
    def rule_name(self) -> str:
        return RULES[self.rule][0]

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "name": self.rule_name,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "field": self.field,
            "message": self.message,
        }


def _sort_key(f: Finding) -> tuple:
    return (f.path, f.line or 0, f.rule, f.field or "", f.message)


@dataclass
class Report:
    """Everything a validation run found. ``ok`` decides the exit code."""

    head: str
    base: str | None = None
    mode: str = "full"
    files_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    gates: list = field(default_factory=list)  # of mlgate.gates.AliasChange

    def add(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    @property
    def errors(self) -> list[Finding]:
        return sorted({f for f in self.findings if f.severity == "error"}, key=_sort_key)

    @property
    def pending(self) -> list[Finding]:
        """Gates not yet decided (approvals with no forge to ask): not a failure, not a pass either."""
        return sorted({f for f in self.findings if f.severity == "pending"}, key=_sort_key)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.pending

    def sorted_findings(self) -> list[Finding]:
        return sorted(set(self.findings), key=_sort_key)
