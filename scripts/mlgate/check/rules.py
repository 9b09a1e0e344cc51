"""The catalogue of every rule: built from the Rule objects the checking modules define beside their checks.

Importing this module imports those modules, so :data:`RULES` is complete; ``mlgate rules`` prints it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# the modules holding checks: importing them defines their rules
from mlgate.check import gates, notifications, rollout, run  # noqa: F401
from mlgate.core.rules import Family, Rule, Severity, defined, family, rule_of
from mlgate.infra import yamlio  # noqa: F401
from mlgate.registry import loader, readers  # noqa: F401

__all__ = ["RULES", "Family", "Rule", "Severity", "family", "rule_of", "source_of"]

#: every rule by id, in id order
RULES: dict[str, Rule] = defined()


def source_of(rule: Rule) -> str:
    """Where a rule's check lives: its module and, in a source checkout, the file (``mlgate/check/gates.py``)."""
    module = sys.modules.get(rule.module)
    where = getattr(module, "__file__", None)
    if not where:
        return rule.module
    path = Path(where)
    try:
        path = path.relative_to(Path.cwd())
    except ValueError:
        pass
    return f"{rule.module} ({path})"
