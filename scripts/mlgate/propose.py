"""The write side: register, promote and roll back by pull request; review and merge on the local forge.

Every change is built as a commit on top of the target branch without a
checkout (see :meth:`GitRepo.write_commit`), checked by the validator before
anything is published, then put on a new branch and offered as a pull request.
If a step fails, the branch is removed again: the repository and its branches
are left as they were.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from . import artifacts, layout, schemas
from .errors import CheckFailed, InputError, MlgateError, NotFoundError, UsageError
from .findings import Report
from .forge import Forge, ForgeReviews
from .gates import FAIL, AliasChange, Judge
from .gitrepo import GitRepo, GitTree
from .loader import field_path
from .report import gate_markdown, report_markdown
from .validate import alias_history, load_policy, validate
from .yamlio import YamlError, dump, load

LABEL = "mlgate"


@dataclass(frozen=True)
class Proposal:
    """A change on its own branch, and the pull request that offers it (None with ``--no-pr``)."""

    kind: str
    branch: str
    base: str
    commit: str
    title: str
    body: str
    pr: Any = None  # mlgate.reviews.PullRequest
    version: int | None = None
    gate: AliasChange | None = None


class GateFailed(CheckFailed):
    """A promotion whose gate already fails before review (exit 1); nothing was created."""

    def __init__(self, change: AliasChange) -> None:
        self.change = change
        failing = [c.gate for c in change.checks if c.status == FAIL]
        super().__init__(f"{change.title()} fails its gate ({', '.join(failing)}); nothing was created "
                         "(use --force to open the pull request anyway)")


class MergeRefused(CheckFailed):
    """The local forge refuses a merge whose required check fails (exit 1)."""

    def __init__(self, number: int, report: Report) -> None:
        self.report = report
        super().__init__(f"pull request #{number} cannot be merged: mlgate validate does not pass")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ident(login: str) -> str:
    return f"{login} <{login}@users.noreply.localhost>"


def _schema_check(kind: str, data: dict[str, Any], what: str, hints: dict[str, str] | None = None) -> None:
    problems = []
    for e in schemas.errors(kind, data):
        where = field_path(e.absolute_path)
        msg = e.message
        if e.validator == "required":
            missing = e.message.split("'")[1]
            where = field_path([*e.absolute_path, missing])
            msg = f"missing required field {where!r}"
            hint = (hints or {}).get(where)
            if hint:
                msg += f" (pass {hint})"
        problems.append(f"{where}: {msg}" if where and e.validator != "required" else msg)
    if problems:
        raise UsageError(f"{what} would be invalid: " + "; ".join(problems))


def _base_sha(git: GitRepo, base: str) -> str:
    sha = git.branch_sha(base)
    if sha is None:
        raise UsageError(f"no branch {base!r} in {git.root}: pass --base with the registry's target branch")
    return sha


def _open_base(repo_path: str | os.PathLike[str], base: str) -> tuple[GitRepo, str, GitTree]:
    """The repository, the target branch's commit, and its tree: what every proposal starts from."""
    git = GitRepo(repo_path)
    base_sha = _base_sha(git, base)
    return git, base_sha, GitTree(git, base_sha)


def _publish(git: GitRepo, *, kind: str, base: str, base_sha: str, branch: str, commit: str, title: str, body: str,
             forge: Forge | None, author: str, labels: Sequence[str], version: int | None = None,
             gate: AliasChange | None = None) -> Proposal:
    """Create ``branch`` at ``commit``, push it when there is a remote, open the pull request; undo on failure.

    A branch left by an earlier run of the same command that was killed before it finished (same base,
    same files changed) is taken over, so the command can simply be run again.
    """
    existing = git.branch_sha(branch)
    if existing is not None:
        if not _same_change(git, existing, base_sha, commit):
            raise UsageError(f"branch {branch!r} already exists with other changes: is a pull request for this already "
                             f"open? (delete the branch to start over)")
        commit = existing
    created = False
    pushed = False
    try:
        if existing is None:
            created = True  # set first: whatever happens from here, a branch at `commit` is ours to remove
            git.set_branch(branch, commit, None)
        if git.has_remote():
            pushed = True
            git.push(branch)
        pr = forge.open_pull_request(title=title, body=body, head=branch, base=base, labels=labels, author=author) if forge else None
    except BaseException:
        if created and git.branch_sha(branch) == commit:  # a branch that was there before this run stays as it was
            git.delete_branch(branch, commit)
            if pushed:
                try:
                    git._plumb("push", "--quiet", "origin", "--delete", branch)
                except MlgateError:
                    pass  # never pushed, or the remote refused: the error below says what failed
        raise
    return Proposal(kind, branch, base, commit, title, body, pr, version, gate)


def _same_change(git: GitRepo, existing: str, base_sha: str, commit: str) -> bool:
    """Whether ``existing`` is, like ``commit``, one commit on ``base_sha`` touching the same files."""
    parents = git.git("rev-list", "--parents", "-n", "1", existing).split()[1:]
    if parents != [base_sha]:
        return False

    def files(sha: str) -> str:
        return git.git("diff-tree", "-r", "--no-commit-id", "--name-only", base_sha, sha)

    return files(existing) == files(commit)


def _require_valid(git: GitRepo, base_sha: str, commit: str, what: str) -> None:
    """Refuse to publish a change the validator would reject (gates aside: they need review)."""
    head, base = GitTree(git, commit), GitTree(git, base_sha)
    report = validate(head, base, git.changed_paths(base_sha, commit, layout.WATCHED), gates=False)
    problems = [f for f in report.errors if f.rule < "MG400"]
    if problems:
        listing = "; ".join(f"{f.path}: {f.rule} {f.message}" for f in problems[:5])
        raise UsageError(f"{what} would not pass validation: {listing}")


# --- register -------------------------------------------------------------------------


def _read_yaml_file(path: str, what: str) -> dict[str, Any]:
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {what}: {e.strerror}", path=path) from None
    data = load(raw, path).data
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a YAML mapping", path=path)
    return data


def _read_text_file(path: str, what: str) -> bytes:
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {what}: {e.strerror}", path=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what} must be UTF-8 text", path=path) from None
    if not text.strip():
        raise InputError(f"{what} is empty", path=path)
    return raw


def register(
    repo_path: str | os.PathLike[str],
    model: str,
    *,
    artifact: str,
    eval_file: str,
    card_file: str,
    author: str,
    evidence: dict[str, str] | None = None,
    lineage: dict[str, Any] | None = None,
    artifact_sha256: str | None = None,
    artifact_size: int | None = None,
    artifact_format: str | None = None,
    store: str | None = None,
    description: str | None = None,
    model_description: str | None = None,
    owners: Sequence[str] = (),
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
    progress: Any = None,
) -> Proposal:
    """Write version N+1 of ``model`` (and its model.yaml if the model is new) on a branch, and open a PR."""
    if not layout.NAME_RE.match(model):
        raise UsageError(f"{model!r} is not a valid model name: use {layout.NAME_RULE}")
    git, base_sha, tree = _open_base(repo_path, base)
    versions = tree.listdir(f"{layout.model_dir(model)}/versions") or {}
    version = max((int(v) for v in versions if layout.VERSION_RE.match(v)), default=0) + 1
    files: dict[str, bytes | None] = {}

    if tree.entry(layout.model_path(model)) is None:
        if not model_description or not owners:
            raise UsageError(f"model {model!r} is new: pass --model-description and at least one --owner")
        model_doc = {"apiVersion": "mlgate/v1", "kind": "Model", "name": model, "description": model_description,
                     "owners": list(owners)}
        _schema_check("Model", model_doc, "model.yaml")
        files[layout.model_path(model)] = dump(model_doc).encode()

    if "://" in artifact and not artifact.startswith("file://"):
        if not artifact_sha256 or artifact_size is None or not artifact_format:
            raise UsageError("a remote --artifact URI needs --sha256, --size and --format (mlgate cannot read it to compute them)")
        info = artifacts.ArtifactInfo(artifact, artifact_sha256, artifact_size, artifact_format)
    else:
        local = artifact[len("file://"):] if artifact.startswith("file://") else artifact
        info = artifacts.upload(local, store, artifact_format, progress) if store else artifacts.describe_local(local, artifact_format)
        if artifact_sha256 and artifact_sha256 != info.sha256:
            raise InputError(f"artifact sha256 is {info.sha256}, not the {artifact_sha256} given", path=local)

    folder = layout.version_dir(model, version)
    evidence_map: dict[str, str] = {}
    for name, path in (evidence or {}).items():
        target = Path(path).name
        if target in ("version.yaml", "eval.yaml", "card.md") or target in evidence_map.values():
            raise UsageError(f"evidence {name!r}: file name {target!r} is taken; rename the file")
        evidence_map[name] = target
        files[f"{folder}/{target}"] = _read_text_file(path, f"evidence {name!r}")

    version_doc: dict[str, Any] = {"apiVersion": "mlgate/v1", "kind": "ModelVersion", "model": model, "version": version}
    if description:
        version_doc["description"] = description
    version_doc.update({
        "created_at": _now(),
        "created_by": author,
        "artifact": {"uri": info.uri, "sha256": info.sha256, "size": info.size, "format": info.format},
        "lineage": {k: v for k, v in (lineage or {}).items() if v not in (None, {}, "")},
    })
    if evidence_map:
        version_doc["evidence"] = evidence_map
    hints = {"lineage.run_id": "--run-id", "lineage.git_sha": "--git-sha", "lineage.code_repo": "--code-repo",
             "lineage.dataset": "--dataset-uri and --dataset-sha256"}
    _schema_check("ModelVersion", version_doc, "version.yaml", hints)

    eval_doc = _read_yaml_file(eval_file, "the eval file")
    eval_doc = {"apiVersion": "mlgate/v1", "kind": "EvalResult", "model": model, "version": version,
                **{k: v for k, v in eval_doc.items() if k not in ("apiVersion", "kind", "model", "version")}}
    _schema_check("EvalResult", eval_doc, f"eval.yaml (from {eval_file})")

    files[layout.version_path(model, version)] = dump(version_doc).encode()
    files[layout.eval_path(model, version)] = dump(eval_doc).encode()
    files[layout.card_path(model, version)] = _read_text_file(card_file, "the model card")

    title = f"Register {model} v{version}"
    message = f"{title}\n\nArtifact {info.uri}\nsha256 {info.sha256}\n"
    commit = git.write_commit([base_sha], files, message, _ident(author))
    _require_valid(git, base_sha, commit, title)
    body = (f"Registers **{model} v{version}**.\n\n| | |\n|---|---|\n| artifact | `{info.uri}` |\n"
            f"| sha256 | `{info.sha256}` |\n| size | {info.size:,} bytes ({info.format}) |\n"
            f"| run | `{version_doc['lineage'].get('run_id', '-')}` |\n\nA registration moves no alias: "
            f"promote it with `mlgate promote {model} {version} --alias ALIAS` once merged.\n")
    return _publish(git, kind="register", base=base, base_sha=base_sha, branch=f"mlgate/register-{model}-v{version}",
                    commit=commit, title=title, body=body, forge=forge if open_pr else None, author=author,
                    labels=[LABEL, "registration"], version=version)


# --- promote / rollback ------------------------------------------------------------------


def _alias_bytes(tree: GitTree, model: str, alias: str, version: int, note: str | None) -> bytes:
    path = layout.alias_path(model, alias)
    doc: dict[str, Any] = {"apiVersion": "mlgate/v1", "kind": "Alias", "model": model, "alias": alias, "version": version}
    if tree.entry(path) is not None:
        try:
            current = load(tree.read(path), path).data
            doc = {**current, "version": version} if isinstance(current, dict) else doc
        except YamlError:
            pass
    if note is not None:
        doc["note"] = note
    elif "note" in doc:
        del doc["note"]  # the old note described the old version
    return dump(doc).encode()


def _judge(git: GitRepo, tree: GitTree, model: str, alias: str, to_v: int | None, from_v: int | None) -> AliasChange:
    policy, found = load_policy(tree)
    if found:
        raise InputError(found[0].message, path=layout.POLICY)
    judge = Judge(tree, tree, policy, None, history=lambda m, a, since=None: alias_history(tree, m, a, since),
                  no_reviews_reason="reviewers approve this pull request")
    return judge.alias_change(model, alias, from_v, to_v)


def _current(tree: GitTree, model: str, alias: str) -> int | None:
    path = layout.alias_path(model, alias)
    if tree.entry(path) is None:
        return None
    data = load(tree.read(path), path).data
    return data.get("version") if isinstance(data, dict) else None


def _body(change: AliasChange, intro: str) -> str:
    return f"{intro}\n\n{gate_markdown(change)}\n_Gate report by mlgate as of the base branch; the `validate` check re-judges with the reviews._\n"


def promote(
    repo_path: str | os.PathLike[str],
    model: str,
    version: int,
    alias: str,
    *,
    author: str,
    note: str | None = None,
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
    force: bool = False,
) -> Proposal:
    """Point ``alias`` at ``version`` on a branch; the PR body is the gate report. Refuses a failing gate unless ``force``."""
    if not layout.NAME_RE.match(alias):
        raise UsageError(f"{alias!r} is not a valid alias name: use {layout.NAME_RULE}")
    git, base_sha, tree = _open_base(repo_path, base)
    from .registry import Registry

    reg = Registry(tree)
    try:
        reg.version(model, version)
    except NotFoundError as e:
        raise NotFoundError(f"{e} on {base} (a version must be merged before it is promoted)") from None
    current = _current(tree, model, alias)
    if current == version:
        raise UsageError(f"{model}@{alias} already points at version {version} on {base}")
    change = _judge(git, tree, model, alias, version, current)
    if change.status == FAIL and not force:
        raise GateFailed(change)
    files = {layout.alias_path(model, alias): _alias_bytes(tree, model, alias, version, note)}
    verb = "Roll back" if change.kind == "rollback" else "Promote"
    title = f"{verb} {model} v{version} to {alias}"
    commit = git.write_commit([base_sha], files, f"{title}\n", _ident(author))
    _require_valid(git, base_sha, commit, title)
    intro = f"Moves **{model}@{alias}** from {f'v{current}' if current else '(unset)'} to **v{version}** ({change.kind})."
    return _publish(git, kind="promote", base=base, base_sha=base_sha, branch=f"mlgate/promote-{model}-{alias}-v{version}",
                    commit=commit, title=title, body=_body(change, intro), forge=forge if open_pr else None,
                    author=author, labels=[LABEL, change.kind], version=version, gate=change)


def rollback(
    repo_path: str | os.PathLike[str],
    model: str,
    alias: str,
    *,
    author: str,
    to: int | None = None,
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
) -> Proposal:
    """Revert the last change of ``alias`` on ``base`` (or point it back at ``to``) on a branch, and open a PR."""
    git, base_sha, tree = _open_base(repo_path, base)
    path = layout.alias_path(model, alias)
    current = _current(tree, model, alias)
    if current is None:
        raise NotFoundError(f"{model}@{alias} is not set on {base}: nothing to roll back")
    if to is not None:
        from .registry import Registry

        Registry(tree).version(model, to)
        if to == current:
            raise UsageError(f"{model}@{alias} already points at version {to} on {base}")
        content = _alias_bytes(tree, model, alias, to, f"Rolled back from v{current}.")
        title = f"Roll back {model}@{alias} to v{to}"
        message = f"{title}\n"
        target = to
    else:
        history = git.file_history(base_sha, path, limit=2)
        last_sha = history[0][0]
        previous = history[1][1] if len(history) > 1 else None
        if previous is None:
            raise UsageError(f"{model}@{alias} has no earlier version on {base}'s history to go back to; "
                             f"pass --to VERSION")
        content = previous
        target = load(previous, path).data.get("version")
        subject = git.subject(last_sha)
        title = f"Revert \"{subject}\""
        message = f"{title}\n\nThis reverts commit {last_sha}.\n"
    change = _judge(git, tree, model, alias, target, current)
    commit = git.write_commit([base_sha], {path: content}, message, _ident(author))
    _require_valid(git, base_sha, commit, title)
    intro = f"Rolls **{model}@{alias}** back from v{current} to **v{target}** ({change.kind})."
    return _publish(git, kind="rollback", base=base, base_sha=base_sha, branch=f"mlgate/rollback-{model}-{alias}-v{target}",
                    commit=commit, title=title, body=_body(change, intro), forge=forge if open_pr else None,
                    author=author, labels=[LABEL, "rollback"], version=target, gate=change)


# --- the local forge's review and merge ------------------------------------------------------


def judge_pull_request(repo_path: str | os.PathLike[str], forge: Forge, number: int) -> Report:
    """Validate a pull request as its required check would: head against base, approvals from the forge."""
    pr = forge.pull_request(number)
    git = GitRepo(repo_path)
    base_sha = _base_sha(git, pr.base)
    head, base = GitTree(git, pr.head_sha), GitTree(git, base_sha)
    return validate(head, base, git.changed_paths(base_sha, pr.head_sha, layout.WATCHED), reviews=ForgeReviews(forge, number))


def merge_pull_request(repo_path: str | os.PathLike[str], forge: Any, number: int, merged_by: str) -> tuple[str, Report]:
    """Merge a local pull request with a merge commit, refusing when validation fails (like a required check).

    The merge result is judged against the current base, with the PR's reviews.
    Returns the merge commit and the report.
    """
    pr = forge.pull_request(number)
    if pr.state != "open":
        raise UsageError(f"pull request #{number} is {pr.state}")
    git = GitRepo(repo_path)
    base_sha = _base_sha(git, pr.base)
    tree = git.merge_tree(base_sha, pr.head_sha)
    if tree is None:
        raise CheckFailed(f"pull request #{number} conflicts with {pr.base}: update its branch first")
    message = f"Merge pull request #{number} from {pr.head}\n\n{pr.title}\n"
    merge = git.write_commit([base_sha, pr.head_sha], {}, message, _ident(merged_by), tree=tree)
    report = validate(GitTree(git, merge), GitTree(git, base_sha), git.changed_paths(base_sha, merge, layout.WATCHED),
                      reviews=ForgeReviews(forge, number))
    if not report.ok:
        raise MergeRefused(number, report)
    checked_out = git.current_branch() == pr.base
    if checked_out and not git.is_clean():
        raise UsageError(f"{pr.base} is checked out with uncommitted changes: commit or stash them before merging")
    git.set_branch(pr.base, merge, base_sha)
    if checked_out:
        git.update_checkout(base_sha, merge)
    forge.mark_merged(number, merge, merged_by, pr.head_sha)
    forge.upsert_comment(number, report_markdown(report))
    return merge, report


_PR_NUMBER = re.compile(r"^#?([1-9][0-9]*)$")


def pr_number(text: str) -> int:
    m = _PR_NUMBER.match(text.strip())
    if not m:
        raise UsageError(f"{text!r} is not a pull request number")
    return int(m.group(1))
