"""registry/notifications.yaml beyond its schema: where subscribers' events may go, no secret in the file, and (a
warning) filters naming only models and aliases the registry has.

Changes to the file need the policy admins' approval like policy.yaml (``layout.GOVERNANCE_MANIFESTS``, judged
with MG501 by the base branch's policy); the rules here check its content in every validation.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlgate.core import layout
from mlgate.core.findings import Finding
from mlgate.core.notifications import Notifications, problems
from mlgate.core.policy import Policy
from mlgate.core.rules import Family, Severity, define
from mlgate.core.uris import did_you_mean
from mlgate.infra.git import DIR, FILE
from mlgate.infra.yamlio import Document, field_path
from mlgate.registry.loader import Tree, load_manifest

# --- the rules checked here (mlgate rules RULE_ID says where each lives) ---

MG211 = define(
    "MG211",
    "notify-subscriber",
    Family.INTEGRITY,
    "A subscriber in notifications.yaml cannot be posted to safely: its URL is not https:// (http:// only to a "
    "loopback address), has no host or has a #fragment; it gives both or neither of url and url_env; or it "
    "asks for CloudEvents without secret_env.",
)
MG212 = define(
    "MG212",
    "notify-secret",
    Family.INTEGRITY,
    "notifications.yaml holds what looks like a credential (a token, a key, a password in a URL, a Slack "
    "webhook URL): the manifest names environment variables (secret_env, url_env), never their values.",
)

MG213 = define(
    "MG213",
    "notify-unknown-name",
    Family.INTEGRITY,
    "A subscriber's models: or aliases: filter in notifications.yaml names a model or an alias the registry does "
    "not have (a warning, not an error: it may be about to be registered; until then it matches no event).",
    Severity.WARNING,
)


def notification_findings(doc: Document, tree: Tree | None = None, policy: Policy | None = None) -> list[Finding]:
    """MG211 and MG212 findings of a schema-valid notifications.yaml, one per field; with the registry's
    ``tree`` (and its ``policy``), MG213 warnings too (:func:`unknown_names`)."""
    out = []
    for kind, where, message in problems(doc.data):
        rule = MG212 if kind == "secret" else MG211
        out.append(Finding(doc.path, doc.line_of(where), rule, message, field_path(where) or None))
    if tree is not None:
        out += unknown_names(doc, tree, policy)
    return out


def unknown_names(doc: Document, tree: Tree, policy: Policy | None = None) -> list[Finding]:
    """MG213: each name in a subscriber's ``models:`` that is no model folder of ``tree``, and each name in its
    ``aliases:`` that none of its models (every model without ``models:``) holds and the policy does not name
    (a gate or a stage's alias). Read only when notifications.yaml is validated: one listing per model asked."""
    listing = tree.listdir(layout.MODELS) or {}
    models = {n for n, e in listing.items() if e.kind == DIR and layout.is_name(n)}
    planned = set(policy.gates) - {"*"} | set(policy.stages.values()) if policy is not None else set()
    held: dict[str, list[str]] = {}

    def aliases_of(names: Iterable[str]) -> set[str]:
        found = set(planned)
        for name in names:
            if name not in held:
                held[name] = layout.alias_names(tree.listdir(f"{layout.model_dir(name)}/aliases") or {})
            found.update(held[name])
        return found

    out = []
    for i, sub in enumerate(doc.data.get("subscribers", ())):
        wanted = sub.get("models")
        for j, name in enumerate(wanted or ()):
            if name not in models:
                out.append(_unknown(doc, ("subscribers", i, "models", j), name, "model", models))
        if sub.get("aliases"):
            scope = [m for m in wanted if m in models] if wanted else sorted(models)
            known = aliases_of(scope)
            for j, name in enumerate(sub["aliases"]):
                if name not in known:
                    out.append(_unknown(doc, ("subscribers", i, "aliases", j), name, "alias", known))
    return out


def _unknown(doc: Document, where: tuple[str | int, ...], name: str, what: str, known: set[str]) -> Finding:
    field = field_path(where)
    holder = "a model of the registry" if what == "model" else "an alias any of the subscriber's models holds"
    message = (
        f"{field} names {name!r}, which is not {holder} (it matches no event until that {what} exists)"
        f"{did_you_mean(name, sorted(known))}"
    )
    return Finding(doc.path, doc.line_of(where), MG213, message, field, Severity.WARNING)


def load_notifications(tree: Tree) -> tuple[Notifications | None, list[Finding]]:
    """The subscribers in ``tree`` (None when it has no notifications.yaml), or every finding that keeps the
    file from being used."""
    entry = tree.entry(layout.NOTIFICATIONS)
    if entry is None:
        return None, []
    if entry.kind != FILE:
        why = "a symlink" if entry.kind == "symlink" else "not a regular file"
        return None, [Finding(layout.NOTIFICATIONS, None, "MG208", f"{why}: registry/ may hold regular files only")]
    doc, found = load_manifest(tree, layout.NOTIFICATIONS, "Notifications")
    if doc is None:
        return None, found
    found = notification_findings(doc)
    return (None if found else Notifications.from_manifest(doc.data)), found
