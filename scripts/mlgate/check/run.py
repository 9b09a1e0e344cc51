"""The validator core: parse, schema, integrity and immutability checks as a :class:`Report`.

Incremental by design: given a base, only the paths that differ from it (and
the few manifests they point at) are read, so the cost follows the size of the
change, not of the registry.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Sequence

from mlgate.check import rollout
from mlgate.check.gates import MG204, AliasChange, Judge, model_policy_findings
from mlgate.check.notifications import notification_findings
from mlgate.check.rollback import Claim, RollbackProver, no_proof, pull_request_claims
from mlgate.core import layout
from mlgate.core.findings import Finding, Report
from mlgate.core.layout import LayoutError, Place
from mlgate.core.model import Rollout
from mlgate.core.policy import Policy
from mlgate.core.rules import Family, define
from mlgate.core.signoff import ReviewSource
from mlgate.core.times import parse_iso
from mlgate.errors import InputError, UsageError
from mlgate.infra.git import FILE, GitRepo, GitTree, WorkTree, find_root
from mlgate.infra.yamlio import Document, FieldPath, field_path
from mlgate.registry.loader import Tree, load_manifest
from mlgate.registry.readers import alias_version_of

# --- the rules checked here (mlgate rules RULE_ID says where each lives) ---

MG201 = define(
    "MG201",
    "layout",
    Family.INTEGRITY,
    "A file or folder under registry/ has no place in the registry layout (dotfiles such as .gitattributes included; only .gitkeep is allowed, outside version folders), its name is not a valid model, alias or version name, or it holds control characters or text not in Unicode NFC.",
)
MG202 = define(
    "MG202",
    "name-mismatch",
    Family.INTEGRITY,
    "A manifest's model, alias or version field disagrees with the folder or file it is in.",
)
MG203 = define(
    "MG203",
    "missing-manifest",
    Family.INTEGRITY,
    "A model folder has no model.yaml, or a version folder has no version.yaml.",
)
MG205 = define(
    "MG205",
    "deprecated-target",
    Family.INTEGRITY,
    "An alias points at a version that model.yaml lists as deprecated.",
)
MG206 = define(
    "MG206",
    "evidence-missing",
    Family.INTEGRITY,
    "An evidence file named in version.yaml does not exist in the version folder.",
)
MG207 = define(
    "MG207",
    "path-escape",
    Family.INTEGRITY,
    "A path in a manifest is absolute, uses '..' or '\\', or otherwise leaves its folder.",
)
MG208 = define(
    "MG208",
    "symlink",
    Family.INTEGRITY,
    "A symlink, submodule or other non-regular file is in registry/.",
)
MG209 = define(
    "MG209",
    "deprecated-unknown",
    Family.INTEGRITY,
    "model.yaml deprecates a version that does not exist.",
)
MG210 = define(
    "MG210",
    "rollout-integrity",
    Family.INTEGRITY,
    "An alias's rollout names the version the alias already holds as its candidate, or online evidence names a candidate or holder that does not exist, or its window does not end after it starts.",
)
MG301 = define(
    "MG301",
    "immutable-modified",
    Family.IMMUTABILITY,
    "A file of a version that exists on the base was modified, or a file (any file, whatever its name) was added to it.",
)
MG302 = define(
    "MG302",
    "immutable-deleted",
    Family.IMMUTABILITY,
    "A file of a version that exists on the base was deleted.",
)
MG303 = define(
    "MG303",
    "immutable-renamed",
    Family.IMMUTABILITY,
    "A file of a version that exists on the base was moved elsewhere.",
)
MG503 = define(
    "MG503",
    "policy-unreadable",
    Family.POLICY,
    "The base branch's registry/policy.yaml cannot be read, so changes cannot be judged.",
)


def validate_repo(
    path: str | os.PathLike[str] = ".",
    *,
    base: str | None = None,
    head: str | None = None,
    reviews: ReviewSource | None = None,
) -> Report:
    """Validate the registry of the repository at ``path``.

    ``head`` is a git ref, or None for the working tree. With ``base`` (a git
    ref), only what changed since ``base`` is checked, merged versions are
    checked for immutability, and every alias change is judged by the base's
    policy, with approvals from ``reviews`` (pending without one). Raises :class:`mlgate.errors.MlgateError` for an
    unreadable repository or ref.
    """
    if base is None and head is None:
        root = find_root(path)
        return validate(WorkTree(root))
    repo = GitRepo(path)
    try:
        head_tree: Tree = repo.tree(head) if head else WorkTree(repo.root)
        base_tree = repo.tree(base) if base else None
        changes = repo.changed_paths(base_tree.commit, head_tree.commit, watched(base_tree)) if base_tree else None
        return validate(head_tree, base_tree, changes, reviews=reviews)
    finally:
        repo.close()


def validate(
    head: Tree,
    base: GitTree | None = None,
    changes: dict[str, str] | None = None,
    *,
    reviews: ReviewSource | None = None,
    gates: bool = True,
) -> Report:
    """Check ``head``; with ``base`` and its ``changes`` ({path: A/M/D/T}), only what changed, plus gates
    (unless ``gates`` is false: the integrity checks alone, as the write commands use before publishing)."""
    if changes is None and head.entry(layout.REGISTRY) is None:
        raise InputError(f"no registry/ folder in {head.label}: nothing to validate (is this an mlgate repository?)")
    run = _Run(head)
    policy_tree = head if base is None else base
    run.policy, policy_findings = load_policy(policy_tree)
    if changes is None:
        scope = head.walk(layout.REGISTRY)
        report = Report(head=head.label, mode="full")
        run.check_paths(sorted(scope), deleted=[])
    else:
        assert base is not None
        report = Report(head=head.label, base=base.label, mode="incremental")
        registry = {p: st for p, st in changes.items() if p.startswith(layout.REGISTRY + "/")}
        present = sorted(p for p, status in registry.items() if status != "D")
        deleted = sorted(p for p, status in registry.items() if status == "D")
        run.check_paths(present, deleted)
        run.findings.extend(_immutability(head, base, changes))
        run.findings.extend(policy_findings)
        head_commit = head.commit if isinstance(head, GitTree) else None
        claims = pull_request_claims(base.repo, base.commit, head_commit) if head_commit else list[Claim]()
        judge = Judge(head, base, run.policy, reviews, rollback=RollbackProver(base.repo, base.commit, claims))
        if gates and not policy_findings:
            report.gates = judge_changes(judge, changes)
            for change in report.gates:
                run.findings.extend(change.findings())
    report.files_checked = run.files_checked
    report.add(run.findings)
    return report


def check_gate(
    path: str | os.PathLike[str], model: str, version: int, alias: str, *, ref: str | None = None
) -> AliasChange:
    """Dry run of the promotion gate: would pointing ``alias`` at ``version`` pass, as of ``ref``?

    Judged like a pull request against ``ref`` (or the working tree): the
    current holder there is the one to beat, and approvals are pending since
    there is no pull request yet.
    """
    from mlgate.registry.snapshot import Registry

    for value, what in ((model, "model"), (alias, "alias")):
        if not layout.is_name(value):
            raise UsageError(f"{value!r} is not a valid {what} name: use {layout.NAME_RULE}")
    reg = Registry.open(path, ref)
    reg.version(model, version)  # NotFoundError listing the versions
    tree = reg.tree
    current = reg.aliases(model).get(alias)
    return judge_before_review(
        tree,
        model,
        alias,
        current.version if current else None,
        version,
        reason="not in a pull request yet: reviewers approve the PR",
    )


def judge_before_review(
    tree: Tree,
    model: str,
    alias: str,
    from_version: int | None,
    to_version: int | None,
    *,
    reason: str,
    rollout_before: Rollout | None = None,
    rollout_after: Rollout | None = None,
    claims: Sequence[Claim] = (),
) -> AliasChange:
    """An alias change judged by the policy of ``tree`` before any review (approvals pending for ``reason``).

    A move back is a rollback only when one of ``claims`` (the commit message the change will carry) proves
    it against ``tree``'s first-parent history, exactly as the validator will check the pull request."""
    policy, found = load_policy(tree)
    if found:
        raise InputError(found[0].message, path=layout.POLICY)
    judge = Judge(
        tree,
        tree,
        policy,
        None,
        rollback=RollbackProver(tree.repo, tree.commit, claims) if isinstance(tree, GitTree) and claims else no_proof,
        no_reviews_reason=reason,
    )
    change = rollout.judge_alias(judge, model, alias, from_version, to_version, rollout_before, rollout_after)
    if change is None:  # nothing moved: a dry run on the holder itself
        return judge.alias_change(model, alias, from_version, to_version)
    return change


def watched(base: Tree) -> tuple[str, ...]:
    """The paths a pull request against ``base`` is judged on: registry/, the built-in governance files, and
    whatever the base policy's ``protect`` list adds."""
    policy, _ = load_policy(base)
    return layout.WATCHED + (policy.protect if policy else ())


def load_policy(tree: Tree) -> tuple[Policy | None, list[Finding]]:
    """The policy in ``tree`` (None when it has none), or an MG503 finding if it cannot be read."""
    entry = tree.entry(layout.POLICY)
    if entry is None:
        return None, []
    doc, found = load_manifest(tree, layout.POLICY, "Policy") if entry.kind == FILE else (None, [])
    if doc is None:
        why = "; ".join(f"{f.rule} {f.message}" for f in found) or "not a regular file"
        return None, [
            Finding(
                layout.POLICY,
                None,
                MG503,
                f"the policy on {tree.label} cannot be read, so no change can be judged: {why}",
            )
        ]
    return Policy.from_manifest(doc.data), []


def judge_changes(judge: Judge, changes: dict[str, str]) -> list[AliasChange]:
    """One :class:`AliasChange` per alias file a change adds, edits or deletes, plus one for a policy edit."""
    out = []
    for path, status in sorted(changes.items()):
        if path == layout.POLICY or layout.is_governance(path) or (judge.policy and judge.policy.protects(path)):
            out.append(judge.policy_change(path))
            continue
        try:
            place = layout.classify(path)
        except LayoutError:
            continue
        if place.role == "online":
            assert place.model is not None and place.alias is not None and place.version is not None
            evidence = rollout.judge_evidence(judge, place.model, place.alias, place.version, status == "D")
            if evidence is not None:
                out.append(evidence)
            continue
        if place.role != "alias":
            continue
        before = judge.load(judge.base, path, "Alias")
        after = judge.load(judge.head, path, "Alias") if status != "D" else None
        if status != "D" and after is None:
            continue  # unreadable: already reported by the checks above
        from_v = alias_version_of(before.data, path) if before else None
        to_v = alias_version_of(after.data, path) if after else None
        assert place.model is not None and place.alias is not None  # both named by an alias file's path
        change = rollout.judge_alias(judge, place.model, place.alias, from_v, to_v, _rollout(before), _rollout(after))
        if change is not None:  # None: only the note changed
            out.append(change)
    return out


def _rollout(doc: Document | None) -> Rollout | None:
    block = doc.data.get("rollout") if doc is not None else None
    return Rollout.from_manifest(block) if block else None


@dataclass
class _Run:
    head: Tree
    policy: Policy | None = None
    findings: list[Finding] = field(default_factory=list)
    files_checked: int = 0
    _docs: dict[str, Document | None] = field(default_factory=dict)

    def manifest(self, path: str, kind: str) -> Document | None:
        """Load (once) and return a valid manifest, recording its findings."""
        if path not in self._docs:
            doc, found = load_manifest(self.head, path, kind)
            self._docs[path] = doc
            self.findings.extend(found)
        return self._docs[path]

    def add(self, path: str, rule: str, message: str, doc: Document | None = None, fld: FieldPath = ()) -> None:
        line = doc.line_of(fld) if doc is not None and fld else None
        self.findings.append(Finding(path, line, rule, message, field_path(fld) or None))

    def check_paths(self, present: list[str], deleted: list[str]) -> None:
        models: set[str] = set()
        versions: set[tuple[str, int]] = set()
        alias_rechecks: set[str] = set()
        for path in present:
            self.files_checked += 1
            entry = self.head.entry(path)
            if entry is None or entry.kind != FILE:
                what = "a symlink" if entry and entry.kind == "symlink" else "not a regular file"
                self.add(
                    path,
                    MG208,
                    f"{what}: registry/ may hold regular files only (symlinks could point outside the repository)",
                )
                continue
            place = self._place(path)
            if place is None:
                continue
            if place.model:
                models.add(place.model)
            if place.model and place.version:
                versions.add((place.model, place.version))
            if place.kind:
                self._check_manifest(path, place)
                if place.role == "model" and place.model:
                    alias_rechecks.add(place.model)
        for path in deleted:
            try:
                place = layout.classify(path)
            except LayoutError:
                continue
            if place.model:
                models.add(place.model)
                if place.version:
                    versions.add((place.model, place.version))
                    alias_rechecks.add(place.model)  # an alias may point at what was removed
        for model in sorted(models):
            self._check_model_folder(model)
        for model, version in sorted(versions):
            self._check_version_folder(model, version)
        for model in sorted(alias_rechecks):
            for alias in self._alias_names(model):
                self._check_alias(layout.alias_path(model, alias), model, alias)

    def _place(self, path: str) -> Place | None:
        try:
            return layout.classify(path)
        except LayoutError as e:
            self.add(path, MG201, str(e))
            return None

    def _check_manifest(self, path: str, place: Place) -> None:
        if place.role == "alias":
            assert place.model is not None and place.alias is not None  # both named by an alias file's path
            self._check_alias(path, place.model, place.alias)
            return
        assert place.kind is not None  # called for manifests only
        doc = self.manifest(path, place.kind)
        if doc is None:
            return
        data = doc.data
        if place.role == "model":
            assert place.model is not None  # named by a model.yaml's path
            self._expect(doc, "name", place.model, "the model folder name")
            self.findings.extend(model_policy_findings(doc, self.policy))
            versions = set(self._version_numbers(place.model))
            for i, dep in enumerate(data.get("deprecated", [])):
                if dep["version"] not in versions:
                    self.add(
                        path,
                        MG209,
                        f"deprecates version {dep['version']}, which does not exist",
                        doc,
                        ("deprecated", i),
                    )
        elif place.role == "online":
            self._check_online(doc, place)
        elif place.role == "notifications":
            self.findings.extend(notification_findings(doc, self.head, self.policy))
        elif place.role in ("version", "eval"):
            self._expect(doc, "model", place.model, "the model folder name")
            self._expect(doc, "version", place.version, "the version folder name")
            if place.role == "version":
                self._check_evidence(doc, place)

    def _check_online(self, doc: Document, place: Place) -> None:
        """Online evidence: its fields match its path, its versions exist, its window ends after it starts."""
        assert place.model is not None and place.version is not None
        self._expect(doc, "model", place.model, "the model folder name")
        self._expect(doc, "alias", place.alias, "the folder name under online/")
        self._expect(doc, "candidate", place.version, "the file name")
        versions = set(self._version_numbers(place.model))
        for key in ("candidate", "holder"):
            value = doc.data[key]
            if value not in versions:
                known = ", ".join(str(v) for v in sorted(versions)) or "none"
                self.add(
                    doc.path, MG210, f"{key} is version {value}, which does not exist (versions: {known})", doc, (key,)
                )
        start, end = parse_iso(doc.data["window"]["start"]), parse_iso(doc.data["window"]["end"])
        if start is not None and end is not None and end <= start:
            self.add(
                doc.path,
                MG210,
                f"window.end {doc.data['window']['end']} is not after window.start {doc.data['window']['start']}",
                doc,
                ("window", "end"),
            )

    def _expect(self, doc: Document, key: str, wanted: object, what: str) -> None:
        if doc.data.get(key) != wanted:
            self.add(doc.path, MG202, f"{key} is {doc.data.get(key)!r} but {what} is {wanted!r}", doc, (key,))

    def _check_evidence(self, doc: Document, place: Place) -> None:
        assert place.model is not None and place.version is not None  # both named by a version.yaml's path
        folder = layout.version_dir(place.model, place.version)
        for name, rel in doc.data.get("evidence", {}).items():
            problem = layout.safe_relative(rel)
            if problem:
                self.add(
                    doc.path,
                    MG207,
                    f"evidence {name!r} path {rel!r} {problem}; it must stay inside {folder}/",
                    doc,
                    ("evidence", name),
                )
                continue
            entry = self.head.entry(f"{folder}/{rel}")
            if entry is None:
                self.add(
                    doc.path,
                    MG206,
                    f"evidence {name!r} names {rel!r}, which does not exist in {folder}/",
                    doc,
                    ("evidence", name),
                )
            elif entry.kind != FILE:
                self.add(doc.path, MG208, f"evidence {name!r} ({rel!r}) is not a regular file", doc, ("evidence", name))

    def _check_alias(self, path: str, model: str, alias: str) -> None:
        doc = self.manifest(path, "Alias")
        if doc is None:
            return
        self._expect(doc, "model", model, "the model folder name")
        self._expect(doc, "alias", alias, "the file name")
        version = doc.data["version"]
        entry = self.head.entry(layout.version_path(model, version))
        if entry is None or entry.kind != FILE:
            known = ", ".join(str(v) for v in self._version_numbers(model)) or "none"
            self.add(
                path,
                MG204,
                f"alias {alias!r} points at version {version} of {model!r}, which does not exist (versions: {known})",
                doc,
                ("version",),
            )
            return
        model_doc = self._model_doc(model)
        if model_doc is not None:
            for dep in model_doc.data.get("deprecated", []):
                if dep["version"] == version:
                    self.add(
                        path,
                        MG205,
                        f"alias {alias!r} points at version {version}, deprecated in model.yaml: {dep['reason']}",
                        doc,
                        ("version",),
                    )
        if doc.data.get("rollout"):
            self._check_rollout(doc, model, alias, model_doc)

    def _check_rollout(self, doc: Document, model: str, alias: str, model_doc: Document | None) -> None:
        """A rollout's candidate exists, is not deprecated, and is not the version the alias already holds."""
        candidate = doc.data["rollout"]["candidate"]
        where = ("rollout", "candidate")
        if candidate == doc.data["version"]:
            self.add(
                doc.path,
                MG210,
                f"the rollout's candidate is version {candidate}, which {alias!r} already holds: a rollout brings another version",
                doc,
                where,
            )
            return
        entry = self.head.entry(layout.version_path(model, candidate))
        if entry is None or entry.kind != FILE:
            known = ", ".join(str(v) for v in self._version_numbers(model)) or "none"
            self.add(
                doc.path,
                MG204,
                f"the rollout of {alias!r} names candidate version {candidate} of {model!r}, which does not exist (versions: {known})",
                doc,
                where,
            )
            return
        for dep in model_doc.data.get("deprecated", []) if model_doc is not None else []:
            if dep["version"] == candidate:
                self.add(
                    doc.path,
                    MG205,
                    f"the rollout of {alias!r} names candidate version {candidate}, deprecated in model.yaml: {dep['reason']}",
                    doc,
                    where,
                )

    def _model_doc(self, model: str) -> Document | None:
        path = layout.model_path(model)
        entry = self.head.entry(path)
        if entry is None or entry.kind != FILE:
            return None
        return self.manifest(path, "Model")

    def _check_model_folder(self, model: str) -> None:
        listing = self.head.listdir(layout.model_dir(model))
        if listing is not None and "model.yaml" not in listing:
            self.add(layout.model_dir(model), MG203, f"model folder {model!r} has no model.yaml")

    def _check_version_folder(self, model: str, version: int) -> None:
        listing = self.head.listdir(layout.version_dir(model, version))
        if listing is not None and "version.yaml" not in listing:
            self.add(
                layout.version_dir(model, version),
                MG203,
                f"version folder {model}/versions/{version} has no version.yaml",
            )

    def _version_numbers(self, model: str) -> list[int]:
        return layout.version_numbers(self.head.listdir(f"{layout.model_dir(model)}/versions") or {})

    def _alias_names(self, model: str) -> list[str]:
        return layout.alias_names(self.head.listdir(f"{layout.model_dir(model)}/aliases") or {})


def _immutability(head: Tree, base: GitTree, changes: dict[str, str]) -> list[Finding]:
    """A version that exists on the base is frozen: no file of it may change, go or appear."""
    merged: dict[tuple[str, int], bool] = {}

    def is_merged(place: Place) -> bool:
        assert place.model is not None and place.version is not None  # a place built from version_of below
        key = (place.model, place.version)
        if key not in merged:
            merged[key] = base.entry(layout.version_path(place.model, place.version)) is not None
        return merged[key]

    added: dict[str, str] | None = None

    def moved_to(oid: str) -> str | None:
        nonlocal added
        if added is None:  # hashed only when a merged file disappears
            added = {}
            for p in sorted(p for p, s in changes.items() if s == "A"):
                added.setdefault(_blob_oid(head, p) or "", p)
        return added.get(oid)

    found = []
    for path, status in sorted(changes.items()):
        owner = layout.version_of(path)  # from the path alone: a file with no place in the layout counts too
        if owner is None:
            continue
        place = Place("evidence", None, owner[0], version=owner[1])
        if not is_merged(place):
            continue
        ref = f"version {place.version} of {place.model!r} is merged on {base.label} and immutable"
        if status == "D":
            base_entry = base.entry(path)
            target = moved_to(base_entry.oid) if base_entry and base_entry.oid else None
            if target:
                found.append(Finding(path, None, MG303, f"moved to {target}: {ref}; register a new version instead"))
            else:
                found.append(Finding(path, None, MG302, f"deleted: {ref}; deprecate it in model.yaml instead"))
        elif status == "A":
            found.append(
                Finding(path, None, MG301, f"added to a merged version: {ref}; register a new version instead")
            )
        else:
            found.append(Finding(path, None, MG301, f"modified: {ref}; register a new version instead"))
    return found


def _blob_oid(tree: Tree, path: str) -> str | None:
    entry = tree.entry(path)
    if entry is None or entry.kind != FILE:
        return None
    if entry.oid:
        return entry.oid
    data = tree.read(path)
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
