"""The gate engine: judge every alias change of a pull request against the base branch's policy.

Inputs are two trees (base and head), the base policy, and optionally a
:class:`~mlgate.reviews.ReviewSource` for approvals. Output: one
:class:`AliasChange` per alias set, moved or removed (and one per policy
change), each with a :class:`Check` per gate, plus findings for the report.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mlgate.core import layout
from mlgate.core.events import POLICY_CHANGE, PROMOTION, REMOVAL, ROLLBACK
from mlgate.core.findings import Finding
from mlgate.core.policy import Approvals, Bound, Gate, Policy, loosenings, tighten
from mlgate.core.rules import FAIL, PASS, PENDING, Family, Severity, Status, define, family
from mlgate.core.signoff import PullRequest, ReviewSource, count_approvals
from mlgate.infra.git import FileTooLarge
from mlgate.infra.yamlio import Document, YamlError, decode, exact
from mlgate.registry.loader import Tree, load_manifest

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

# --- the rules checked here (mlgate rules RULE_ID says where each lives) ---

MG204 = define(
    "MG204",
    "alias-target",
    Family.INTEGRITY,
    "An alias points at a version that does not exist.",
)
MG401 = define(
    "MG401",
    "gate-evidence",
    Family.GATE,
    "An alias change's target lacks evidence the policy requires (eval, card, or a named file), or it is empty (no visible text), over 4 MiB, or invalid.",
)
MG402 = define(
    "MG402",
    "gate-metric",
    Family.GATE,
    "A metric of the target's eval.yaml is missing or outside the policy's min/max bounds.",
)
MG403 = define(
    "MG403",
    "gate-regression",
    Family.GATE,
    "A metric regresses against the version holding the alias on the base by more than the policy's tolerance, or cannot be compared.",
)
MG404 = define(
    "MG404",
    "gate-card",
    Family.GATE,
    "The target's model card (read as CommonMark) lacks a heading the policy requires, or the section shows no visible text.",
)
MG405 = define(
    "MG405",
    "gate-deprecated",
    Family.GATE,
    "An alias change targets a version listed as deprecated in model.yaml.",
)
MG406 = define(
    "MG406",
    "gate-approvals",
    Family.GATE,
    "The pull request lacks the approvals the policy requires (or they are pending: no forge to ask).",
)
MG501 = define(
    "MG501",
    "policy-approval",
    Family.POLICY,
    "Something that decides how pull requests are judged changed without the approval of the base policy's admins: registry/policy.yaml, a CODEOWNERS file, anything under .github/ (workflows, the pinned validator in mlgate-requirements.txt), a .gitattributes at any depth, .gitmodules, .lfsconfig, registry/notifications.yaml, or a path the base policy's protect list names.",
)
MG502 = define(
    "MG502",
    "policy-loosened",
    Family.POLICY,
    "A model.yaml policy loosens the registry policy instead of tightening it.",
)


#: the kinds of rollout change a gate judges (core.rollout's kinds, and a pull request adding online evidence)
ROLLOUT_START = "rollout-start"
ROLLOUT_STEP = "rollout-step"
ROLLOUT_STEP_DOWN = "rollout-step-down"
ROLLOUT_COMPLETE = "rollout-complete"
ROLLOUT_ABORT = "rollout-abort"
ROLLOUT_EVIDENCE = "rollout-evidence"
#: the changes judged with the rollout gate's approvals (the alias's own when it names none)
ROLLOUT_STEPS = (ROLLOUT_START, ROLLOUT_STEP, ROLLOUT_COMPLETE, ROLLOUT_EVIDENCE)
#: the changes judged with the rollback gate: back to what served before
ROLLBACK_LIKE = (ROLLBACK, ROLLOUT_STEP_DOWN, ROLLOUT_ABORT)

#: evidence files (model cards, audits) are read whole; past this they fail their gate instead
MAX_EVIDENCE_BYTES = 4 * 1024 * 1024

#: the check that stands for a gate with no metric bound (details ``{"configured": false}``)
METRICS_GATE = "metrics"
NO_METRIC_GATES = "no metric gates configured"

_DEPRECATED_RULE = MG405  # the gate's deprecated check; the alias file's MG205 reports the same problem


@dataclass(frozen=True)
class Check:
    """One gate's verdict on one alias change, in words a reviewer understands."""

    gate: str
    status: Status
    reason: str
    rule: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "status": self.status,
            "rule": self.rule,
            "reason": self.reason,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class AliasChange:
    """An alias set, moved or removed by a change (or a change to the policy itself), and its gates."""

    kind: str
    path: str
    model: str | None
    alias: str | None
    from_version: int | None
    to_version: int | None
    policy_key: str | None
    checks: tuple[Check, ...]
    #: the rollout a rollout change starts, steps, completes or aborts, or the one online evidence is for:
    #: candidate, mode, before/after percent, the policy's steps, the next step, the evidence (see check.rollout)
    rollout: Mapping[str, Any] | None = None

    @property
    def status(self) -> str:
        states = {c.status for c in self.checks}
        return FAIL if FAIL in states else PENDING if PENDING in states else PASS

    def title(self) -> str:
        if self.kind == POLICY_CHANGE:
            return f"governance change ({self.path})"
        if self.rollout is not None:
            return f"{self.model}@{self.alias}: {self.rollout['summary']} ({self.kind})"
        arrow = f"{self.from_version or '(none)'} -> {self.to_version or '(removed)'}"
        return f"{self.model}@{self.alias}: {arrow} ({self.kind})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "model": self.model,
            "alias": self.alias,
            "from": self.from_version,
            "to": self.to_version,
            "policy": self.policy_key,
            "status": self.status,
            "checks": [c.to_dict() for c in self.checks],
            **({"rollout": dict(self.rollout)} if self.rollout is not None else {}),
        }

    def findings(self) -> list[Finding]:
        out = []
        for c in self.checks:
            # integrity rules report themselves, and so does a deprecated target (MG205 on the alias file):
            # one problem, one finding; the gate table still shows the failing check
            if c.status != PASS and family(c.rule) is not Family.INTEGRITY and c.rule != _DEPRECATED_RULE:
                what = f"{self.model}@{self.alias}" if self.model else "policy change"
                severity = Severity.PENDING if c.status == PENDING else Severity.ERROR
                out.append(Finding(self.path, None, c.rule, f"{what} {c.gate}: {c.reason}", severity=severity))
        return out


Loader = Callable[[Tree, str, str], "Document | None"]


def cached_loader() -> Loader:
    """A manifest loader that reads each (tree, path) once and keeps only valid documents."""
    cache: dict[tuple[int, str], Document | None] = {}

    def load(tree: Tree, path: str, kind: str) -> Document | None:
        key = (id(tree), path)
        if key not in cache:
            entry = tree.entry(path)
            cache[key] = load_manifest(tree, path, kind)[0] if entry is not None and entry.kind == "file" else None
        return cache[key]

    return load


@dataclass
class Judge:
    """Everything needed to judge alias changes between a base and a head tree."""

    head: Tree
    base: Tree
    policy: Policy | None
    reviews: ReviewSource | None = None
    #: proves a move back to a former holder (see check.rollback); without proof a move is a promotion
    rollback: Callable[[str, str, int | None, int | None], object | None] = lambda model, alias, f, t: None
    load: Loader = field(default_factory=cached_loader)
    no_reviews_reason: str = "no forge configured: approvals are counted when validate runs on a pull request"
    _pr: PullRequest | None = None

    # --- alias changes -------------------------------------------------------

    def gate_of(self, model: str, alias: str) -> tuple[Gate | None, str | None]:
        """The gate for ``model@alias``: the base policy's, tightened by the model's own, and its policy key."""
        if self.policy is None:
            return None, None
        registry_gate, key = self.policy.gate_for(alias)
        return tighten(registry_gate, self._model_gate(model, alias)), key

    def approval_rule(self, model: str, alias: str, kind: str) -> Approvals | None:
        """The approvals a change of ``kind`` to ``model@alias`` needs (None: none), exactly as the gate asks."""
        gate, _ = self.gate_of(model, alias)
        if kind == REMOVAL:
            if self.policy is None or not self.policy.is_protected(alias) or gate is None:
                return None
            return gate.approvals or Approvals(min=1)
        if gate is None:
            return None
        if kind in ROLLBACK_LIKE:
            return gate.for_rollback().approvals
        if kind in ROLLOUT_STEPS and gate.rollout is not None and gate.rollout.approvals is not None:
            return gate.rollout.approvals
        return gate.approvals

    def admin_rule(self) -> Approvals | None:
        """The approvals a governance change needs: one of the base policy's admins."""
        return None if self.policy is None else Approvals(min=1, allowed=self.policy.admins, exclude_author=True)

    def alias_change(self, model: str, alias: str, from_v: int | None, to_v: int | None) -> AliasChange:
        path = layout.alias_path(model, alias)
        if self.policy is None:
            check = Check("policy", PASS, "no registry/policy.yaml on the base: alias changes are not gated", MG406)
            kind = REMOVAL if to_v is None else PROMOTION
            return AliasChange(kind, path, model, alias, from_v, to_v, None, (check,))
        gate, key = self.gate_of(model, alias)
        if to_v is None:
            return self._removal(path, model, alias, from_v, key)
        target = self.load(self.head, layout.version_path(model, to_v), "ModelVersion")
        kind = ROLLBACK if self.rollback(model, alias, from_v, to_v) is not None else PROMOTION
        if gate is None:
            check = Check("policy", PASS, f"the policy has no gate for {alias!r} and no '*' default", MG406)
            return AliasChange(kind, path, model, alias, from_v, to_v, None, (self._deprecated(model, to_v), check))
        if kind == ROLLBACK:
            gate = gate.for_rollback()
        if target is None:
            check = Check("target", FAIL, f"version {to_v} does not exist or its version.yaml is invalid", MG204)
            return AliasChange(kind, path, model, alias, from_v, to_v, key, (check,))
        checks = [self._deprecated(model, to_v)]
        checks += self._evidence(model, to_v, gate)
        checks += self._metrics(model, to_v, from_v, gate)
        if gate.card_sections:
            checks.append(self._card(model, to_v, gate.card_sections))
        checks.append(self._approvals(gate.approvals))
        return AliasChange(kind, path, model, alias, from_v, to_v, key, tuple(checks))

    def _removal(self, path: str, model: str, alias: str, from_v: int | None, key: str | None) -> AliasChange:
        rule = self.approval_rule(model, alias, REMOVAL)
        if rule is None:
            check = Check(
                "removal", PASS, f"{alias!r} is not named in the policy: removing it needs no sign-off", MG406
            )
            return AliasChange(REMOVAL, path, model, alias, from_v, None, key, (check,))
        return AliasChange(REMOVAL, path, model, alias, from_v, None, key, (self._approvals(rule),))

    def _model_gate(self, model: str, alias: str) -> Gate | None:
        # The model's own gate as on the base (a PR cannot relax the gate that judges it);
        # a model new in this PR brings its own, which can only tighten.
        doc = self.load(self.base, layout.model_path(model), "Model") or self.load(
            self.head, layout.model_path(model), "Model"
        )
        gate = ((doc.data.get("policy") or {}).get("aliases") or {}).get(alias) if doc else None
        return Gate.from_manifest(gate) if gate else None

    def _deprecated(self, model: str, version: int) -> Check:
        doc = self.load(self.head, layout.model_path(model), "Model")
        for dep in doc.data.get("deprecated", []) if doc else []:
            if dep["version"] == version:
                return Check("deprecated", FAIL, f"version {version} is deprecated: {dep['reason']}", MG405)
        return Check("deprecated", PASS, f"version {version} is not deprecated", MG405)

    def _evidence(self, model: str, version: int, gate: Gate) -> list[Check]:
        checks = []
        folder = layout.version_dir(model, version)
        vdoc = self.load(self.head, layout.version_path(model, version), "ModelVersion")
        listed = (vdoc.data.get("evidence") or {}) if vdoc else {}
        for name in gate.evidence:
            if name == "eval":
                ok = self.load(self.head, layout.eval_path(model, version), "EvalResult") is not None
                reason = "eval.yaml is present and valid" if ok else "eval.yaml is missing or invalid"
            elif name == "card":
                ok, reason = self._text_file(f"{folder}/card.md", "card.md")
            elif name not in listed:
                ok, reason = False, f"version.yaml lists no {name!r} evidence file"
            else:
                ok, reason = self._text_file(f"{folder}/{listed[name]}", listed[name])
            checks.append(Check(f"evidence {name}", PASS if ok else FAIL, reason, MG401))
        return checks

    def _text(self, path: str, label: str) -> tuple[str | None, str]:
        """The text of an evidence file, or None and why it does not count."""
        entry = self.head.entry(path)
        if layout.safe_relative(path) or entry is None or entry.kind != "file":
            return None, f"{label} is missing"
        try:
            text = decode(self.head.read(path, limit=MAX_EVIDENCE_BYTES), path)
        except FileTooLarge as e:
            return None, f"{label} is {e.size:,} bytes; evidence files are limited to {MAX_EVIDENCE_BYTES:,} bytes"
        except YamlError as e:
            return None, f"{label} is unreadable: {e.message}"
        if not visible(text):
            return None, f"{label} is empty"
        return text, f"{label} is present"

    def _text_file(self, path: str, label: str) -> tuple[bool, str]:
        text, reason = self._text(path, label)
        return text is not None, reason

    def _metrics(self, model: str, to_v: int, from_v: int | None, gate: Gate) -> list[Check]:
        if not gate.metrics:
            # said out loud: a gate judged on approvals alone should not look like one that checked metrics
            reason = f"{NO_METRIC_GATES}: this gate bounds no metric of eval.yaml (add metrics: to it in the policy)"
            return [Check(METRICS_GATE, PASS, reason, MG402, {"configured": False})]
        cand = self.load(self.head, layout.eval_path(model, to_v), "EvalResult")
        holder = self.load(self.base, layout.eval_path(model, from_v), "EvalResult") if from_v is not None else None
        checks = []
        for name, bound in gate.metrics.items():
            value = cand.data["metrics"].get(name) if cand else None
            if value is None:
                where = (
                    "eval.yaml is missing or invalid"
                    if cand is None
                    else f"eval.yaml of version {to_v} has no {name!r}"
                )
                checks.append(Check(f"metric {name}", FAIL, f"cannot check {name}: {where}", MG402))
                continue
            if bound.min is not None or bound.max is not None:
                checks.append(self._bounds(name, value, bound))
            if bound.no_regression is not None:
                checks.append(self._regression(name, value, bound, to_v, from_v, holder))
        return checks

    @staticmethod
    def _bounds(name: str, value: float, bound: Bound) -> Check:
        problems, limits = [], []
        if bound.min is not None:
            limits.append(f">= {bound.min:g}")
            if _dec(value) < _dec(bound.min):
                problems.append(f"below the minimum {bound.min:g}")
        if bound.max is not None:
            limits.append(f"<= {bound.max:g}")
            if _dec(value) > _dec(bound.max):
                problems.append(f"above the maximum {bound.max:g}")
        details = {"candidate": value, "min": bound.min, "max": bound.max}
        if problems:
            return Check(f"metric {name}", FAIL, f"{name} = {value:g} is {' and '.join(problems)}", MG402, details)
        return Check(f"metric {name}", PASS, f"{name} = {value:g} (required {' and '.join(limits)})", MG402, details)

    def _regression(
        self, name: str, value: float, bound: Bound, to_v: int, from_v: int | None, holder: Document | None
    ) -> Check:
        gate = f"no regression {name}"
        if from_v is None:
            return Check(
                gate,
                PASS,
                "no version holds this alias on the base: nothing to regress against",
                MG403,
                {"candidate": value, "holder": None},
            )
        held = holder.data["metrics"].get(name) if holder else None
        if held is None:
            where = (
                f"eval.yaml of the current holder (version {from_v}) is missing or invalid"
                if holder is None
                else f"the current holder (version {from_v}) has no {name!r} in its eval.yaml"
            )
            return Check(gate, FAIL, f"cannot compare {name}: {where}", MG403, {"candidate": value, "holder": None})
        return compare(gate, name, value, held, bound, f"v{to_v}", f"v{from_v}", MG403, {"holder_version": from_v})

    def _card(self, model: str, version: int, sections: tuple[str, ...]) -> Check:
        path = layout.card_path(model, version)
        text, reason = self._text(path, "card.md")
        if text is None:
            return Check("card sections", FAIL, reason, MG404)
        found = card_sections(text)
        missing = [s for s in sections if s.lower() not in found]
        empty = [s for s in sections if s.lower() in found and not found[s.lower()]]
        if missing or empty:
            parts = []
            if missing:
                parts.append(f"missing: {', '.join(missing)}")
            if empty:
                parts.append(f"empty: {', '.join(empty)}")
            return Check("card sections", FAIL, "; ".join(parts), MG404, {"missing": missing, "empty": empty})
        return Check("card sections", PASS, f"all {len(sections)} required sections have content", MG404)

    def _approvals(self, rule: Approvals | None) -> Check:
        if rule is None or rule.min == 0:
            return Check("approvals", PASS, "no approvals required", MG406)
        who = f" from {', '.join(rule.allowed)}" if rule.allowed else ""
        if self.reviews is None:
            return Check(
                "approvals",
                PENDING,
                f"needs {rule.min}{who}; {self.no_reviews_reason}",
                MG406,
                {"required": rule.min, "allowed": list(rule.allowed)},
            )
        if self._pr is None:
            self._pr = self.reviews.pull_request()
        result = count_approvals(rule, self._pr, self.reviews)
        details = {
            "required": rule.min,
            "allowed": list(rule.allowed),
            "counted": list(result.counted),
            "ignored": [{"user": u, "reason": r} for u, r in result.ignored],
        }
        return Check("approvals", PASS if result.ok else FAIL, result.describe(rule.allowed), MG406, details)

    # --- policy itself -----------------------------------------------------------

    def policy_change(self, path: str = layout.POLICY) -> AliasChange:
        """A change to registry/policy.yaml, CODEOWNERS or the workflows needs the base policy's admins' approval."""
        if self.policy is None:
            check = Check("admin approval", PASS, "no policy on the base: there are no admins yet", MG501)
        else:
            rule = Approvals(min=1, allowed=self.policy.admins, exclude_author=True)
            c = self._approvals(rule)
            check = Check("admin approval", c.status, c.reason, MG501, c.details)
        return AliasChange(POLICY_CHANGE, path, None, None, None, None, None, (check,))


def compare(
    gate: str,
    name: str,
    value: float,
    held: float,
    bound: Bound,
    candidate: str,
    holder: str,
    rule: str,
    extra: Mapping[str, Any] | None = None,
) -> Check:
    """The no-regression check of ``value`` (the candidate's) against ``held`` (the holder's), in exact decimals."""
    delta = _dec(value) - _dec(held)
    assert bound.no_regression is not None  # checked only for a bound with a tolerance
    tol = _dec(bound.no_regression)
    lower_better = bound.lower_is_better
    worse_by = delta if lower_better else -delta
    details = {
        "candidate": value,
        "holder": held,
        **(extra or {}),
        "delta": float(delta),
        "tolerance": bound.no_regression,
        "better": "lower" if lower_better else "higher",
    }
    text = f"{candidate} {value:g} vs {holder} {held:g} (delta {float(delta):+g}, tolerance {bound.no_regression:g}, {details['better']} is better)"
    if worse_by > tol:
        return Check(gate, FAIL, f"{name} regresses: {text}", rule, details)
    return Check(gate, PASS, text, rule, details)


def model_policy_findings(doc: Document, policy: Policy | None) -> list[Finding]:
    """MG502: a model.yaml whose gates are looser than the registry policy's."""
    found = []
    aliases = (doc.data.get("policy") or {}).get("aliases") or {}
    for alias, raw in aliases.items():
        registry_gate, _ = policy.gate_for(alias) if policy else (None, None)
        if registry_gate is None:
            continue
        for problem in loosenings(registry_gate, Gate.from_manifest(raw), f"policy.aliases.{alias}"):
            line = doc.line_of(("policy", "aliases", alias))
            found.append(
                Finding(
                    doc.path,
                    line,
                    MG502,
                    f"a model may tighten the registry policy, never loosen it: {problem}",
                    f"policy.aliases.{alias}",
                )
            )
    return found


def visible(text: str) -> bool:
    """Whether ``text`` shows anything: some character that is not white space, a control or an invisible
    format character (U+200B zero width space, U+FEFF, U+2060 word joiner, soft hyphen...)."""
    return any(not c.isspace() and c not in _BLANK and unicodedata.category(c) not in _INVISIBLE for c in text)


_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"}
#: letters and symbols that render as nothing (Unicode's "default ignorable" fillers and the Braille blank)
_BLANK = set("\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0\u034f\u180b\u180c\u180d\u180e")


def _inline_text(token: Any) -> str:
    """The text an inline token shows: its text, code and image descriptions, not its markup or raw HTML."""
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "image":
            parts.append(_inline_text(child))
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


@lru_cache(maxsize=1)
def _commonmark() -> MarkdownIt:
    """One CommonMark parser (with tables) for every card: making one costs as much as parsing a card."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def card_sections(markdown: str) -> dict[str, bool]:
    """Headings of a Markdown document, lowercased (white space collapsed) -> whether the section has content.

    Parsed as CommonMark by markdown-it-py (ATX and setext headings; nothing inside code blocks, HTML
    blocks or comments is a heading). A section runs to the next heading of the same or a higher level;
    it has content when a paragraph, list, table, quote or code block in it shows visible text. Raw HTML
    (comments included) and text made only of invisible characters do not count.
    """
    tokens = _commonmark().parse(markdown)
    heads: list[tuple[int, str, int]] = []  # level, title, token index
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            title = " ".join(_inline_text(tokens[i + 1]).split()).lower()
            heads.append((int(tok.tag[1]), title, i))
    out: dict[str, bool] = {}
    for n, (level, title, start) in enumerate(heads):
        end = next((h[2] for h in heads[n + 1 :] if h[0] <= level), len(tokens))
        below = {h[2] for h in heads[n + 1 :] if h[2] < end}
        content = False
        skip_to = start + 3  # heading_open, inline, heading_close
        for j in range(skip_to, end):
            tok = tokens[j]
            if j in below or (j - 1 in below and tok.type == "inline"):
                continue  # a sub-heading's own title is not content
            if tok.type == "inline" and visible(_inline_text(tok)):
                content = True
            elif tok.type in ("fence", "code_block") and visible(tok.content):
                content = True
            if content:
                break
        out[title] = out.get(title, False) or content
    return out


def _dec(x: float | int) -> Decimal:
    """Exact decimal of a number as written (0.902 - 0.005 is 0.897; 0.84999999999999999 is below 0.85)."""
    return exact(x)
