"""Rules: each check's stable id, short name, family, one-line doc and severity, defined once beside its check.

A :class:`Rule` *is* its id (a ``str`` subclass: ``MG403 == "MG403"``), so findings, reports and JSON carry the
plain id that scripts grep for, while the code holds the object. A module defines its rules with
:func:`define`, which records the module, so ``mlgate rules MG403`` can say where the check lives; the catalogue
of every rule is :data:`mlgate.check.rules.RULES`.
"""

from __future__ import annotations

import re
import sys
from enum import Enum
from typing import Any, Final, Literal

_ID = re.compile(r"MG[0-9]{3}\Z")


class Family(str, Enum):
    """What kind of check a rule is."""

    PARSE = "parse"  # the file cannot be read as mlgate's YAML
    SCHEMA = "schema"  # a manifest does not match its schema
    INTEGRITY = "integrity"  # the registry's files do not fit together
    IMMUTABILITY = "immutability"  # a merged version changed
    GATE = "gate"  # a promotion lacks what the policy demands
    POLICY = "policy"  # who judges, and by which policy

    def __str__(self) -> str:
        return self.value


#: a gate check's verdict: passed, failed, or not decided yet (approvals with no forge to ask)
Status = Literal["pass", "fail", "pending"]
PASS: Final = "pass"
FAIL: Final = "fail"
PENDING: Final = "pending"


class Severity(str, Enum):
    """How a finding counts: an error fails the check; a pending gate is neither a pass nor a failure yet."""

    ERROR = "error"
    PENDING = "pending"
    WARNING = "warning"

    def __str__(self) -> str:
        return self.value


class Rule(str):
    """One rule. Equal to, and hashed as, its id; immutable."""

    __slots__ = ("name", "family", "doc", "severity", "module")

    name: str
    family: Family
    doc: str
    severity: Severity
    module: str

    def __new__(cls, id: str, name: str, family: Family, doc: str, severity: Severity, module: str) -> Rule:
        if not _ID.match(id):
            raise ValueError(f"rule id {id!r} is not MG followed by three digits")
        self = super().__new__(cls, id)
        for attr, value in (
            ("name", name),
            ("family", family),
            ("doc", doc),
            ("severity", severity),
            ("module", module),
        ):
            object.__setattr__(self, attr, value)
        return self

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError(f"rule {self} is immutable")

    @property
    def id(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Rule({self.id!r}, {self.name!r}, {self.family.value})"


_DEFINED: dict[str, Rule] = {}


def define(id: str, name: str, family: Family, doc: str, severity: Severity = Severity.ERROR) -> Rule:
    """A new rule, recorded with the module that calls this (the home of its check). An id is defined once."""
    module = sys._getframe(1).f_globals.get("__name__", "?")
    rule = Rule(id, name, family, doc, severity, module)
    if id in _DEFINED and _DEFINED[id].module != module:
        raise ValueError(f"rule {id} is defined twice: in {_DEFINED[id].module} and {module}")
    _DEFINED[id] = rule
    return rule


def defined() -> dict[str, Rule]:
    """Every rule defined so far (by the modules imported so far), by id."""
    return dict(sorted(_DEFINED.items()))


def rule_of(id: str) -> Rule | None:
    """The rule with this id, if the module defining it is loaded."""
    return id if isinstance(id, Rule) else _DEFINED.get(id)


def family(id: str) -> Family | None:
    """The family of a rule (``MG403`` -> :attr:`Family.GATE`), None for an id no loaded module defines."""
    rule = rule_of(id)
    return rule.family if rule is not None else None
