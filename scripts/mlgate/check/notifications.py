"""registry/notifications.yaml beyond its schema: where subscribers' events may go, and no secret in the file.

Changes to the file need the policy admins' approval like policy.yaml (``layout.GOVERNANCE_MANIFESTS``, judged
with MG501 by the base branch's policy); the rules here check its content in every validation.
"""

from __future__ import annotations

from mlgate.core import layout
from mlgate.core.findings import Finding
from mlgate.core.notifications import Notifications, problems
from mlgate.core.rules import Family, define
from mlgate.infra.git import FILE
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


def notification_findings(doc: Document) -> list[Finding]:
    """MG211 and MG212 findings of a schema-valid notifications.yaml, one per field."""
    out = []
    for kind, where, message in problems(doc.data):
        rule = MG212 if kind == "secret" else MG211
        out.append(Finding(doc.path, doc.line_of(where), rule, message, field_path(where) or None))
    return out


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
