"""MLflow's stage names and reserved aliases, until :mod:`mlgate.core.uris` has them (a temporary shim: it goes
when main's "MLflow URI semantics" lands, and the plugin imports the very names from there)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

#: MLflow's stages, in its spelling
MLFLOW_STAGES = ("None", "Staging", "Production", "Archived")
#: the aliases MLflow's stages stand for unless policy.yaml's ``stages:`` says otherwise (Databricks' mapping)
DEFAULT_STAGES = {"Production": "champion", "Staging": "challenger"}
_RESERVED_VERSION = re.compile(r"v[0-9]+\Z", re.IGNORECASE)


def canonical_stage(text: str) -> str | None:
    """MLflow's spelling of a stage typed in any case (``production`` -> ``Production``), or None."""
    return next((s for s in MLFLOW_STAGES if s.lower() == text.strip().lower()), None)


def reserved_alias(name: str) -> str | None:
    """Why ``name`` cannot be an alias (MLflow reserves ``latest`` and ``v<N>``, any case), or None."""
    if name.lower() == "latest":
        return "'latest' alias name (case insensitive) is reserved: it means the newest version"
    if _RESERVED_VERSION.match(name):
        return f"Version alias name '{name}' is reserved: MLflow reads v<N> as version N"
    return None


def stage_of(version: int, held: Collection[str], deprecated: bool, stages: Mapping[str, str]) -> str:
    """The MLflow stage of a version holding the aliases ``held``: Production or Staging when it holds the alias
    ``stages`` maps that stage to, Archived when it is deprecated, None otherwise."""
    for stage in ("Production", "Staging"):
        if stages.get(stage) in held:
            return stage
    return "Archived" if deprecated else "None"
