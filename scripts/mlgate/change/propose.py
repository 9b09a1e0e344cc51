"""The write side: register, promote and roll back by pull request; review and merge on the local forge.

Every change is built as a commit on top of the target branch without a
checkout (see :meth:`GitRepo.write_commit`), checked by the validator before
anything is published, then put on a new branch and offered as a pull request.
If a step fails, what this run created is removed again: the repository and its
branches are left as they were. A run never publishes a branch it did not
compute (see :func:`_publish`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mlgate.check.gates import AliasChange
from mlgate.check.rollback import HELD, REVERT, Claim
from mlgate.check.run import judge_before_review, validate, watched
from mlgate.core import layout
from mlgate.core.findings import Report
from mlgate.core.model import Rollout
from mlgate.core.rules import FAIL, Family, family
from mlgate.core.signoff import is_login, requester_trailer
from mlgate.core.times import format_time
from mlgate.errors import (  # noqa: F401
    CheckFailed,
    GateFailed,
    GitError,
    InputError,
    MergeRefused,
    MlgateError,
    NotFoundError,
    UsageError,
)
from mlgate.forge import Forge, ForgeReviews, PullRequestExists
from mlgate.infra import schemas
from mlgate.infra.git import GitRepo, GitTree, LockBusy
from mlgate.infra.yamlio import YamlError, dump, field_path, load
from mlgate.registry import artifacts, readers
from mlgate.render.report import gate_markdown, report_markdown

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
    reused: bool = False  # the branch was left by an earlier, identical run that did not finish
    #: what the policy's gates would miss and other things worth knowing before merging (register)
    warnings: tuple[str, ...] = ()
    #: the commit the branch held before this run replaced it: the same requester's earlier change, or (``stale``)
    #: a change already merged into the base
    replaced: str | None = None
    stale: bool = False
    updated_pr: bool = False  # ``pr`` was already open from the branch: it now shows this change


def _gate_failure(change: AliasChange) -> str:
    failing = [c.gate for c in change.checks if c.status == FAIL]
    return (
        f"{change.title()} fails its gate ({', '.join(failing)}); nothing was created "
        "(use --force to open the pull request anyway)"
    )


def _now() -> str:
    return format_time()


def _ident(login: str) -> str:
    return f"{login} <{login}@users.noreply.localhost>"


def _schema_check(kind: str, data: dict[str, Any], what: str, hints: dict[str, str] | None = None) -> None:
    problems = []
    for e in schemas.errors(kind, data):
        where = field_path(e.path)
        msg = e.message
        if e.validator == "required":
            missing = e.message.split("'")[1]
            where = field_path([*e.path, missing])
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


def _commit(git: GitRepo, base_sha: str, files: dict[str, bytes | None], message: str, author: str) -> str:
    """The change as a commit on the base, recording its requester in a trailer (``Mlgate-Requested-By``):
    when mlgate opens the pull request with a bot's or a shared token, the requester still cannot approve."""
    return git.write_commit([base_sha], files, f"{message.rstrip()}\n\n{requester_trailer(author)}\n", _ident(author))


def _check_names(model: str, alias: str | None = None) -> None:
    for value, what in ((model, "model"), (alias, "alias")):
        if value is not None and not layout.is_name(value):
            raise UsageError(f"{value!r} is not a valid {what} name: use {layout.NAME_RULE}")
    reserved = layout.reserved_alias(alias) if alias is not None else None
    if reserved:
        raise UsageError(f"{alias!r} is not a valid alias name: {reserved}")


def _open_base(repo_path: str | os.PathLike[str], base: str, author: str) -> tuple[GitRepo, str, GitTree]:
    """The repository, the target branch's commit, and its tree: what every proposal starts from.

    The requester must be a whole login: ``"carol\\n"`` is not carol, and would slip past the author check.
    """
    if not is_login(author):
        raise UsageError(f"{author!r} is not a login: the requester of a change is a forge user name")
    git = GitRepo(repo_path)
    base_sha = _base_sha(git, base)
    tree = GitTree(git, base_sha)
    tree.label = f"{base} ({base_sha[:12]})"  # messages name the branch, at the very commit judged
    return git, base_sha, tree


def _email(login: str) -> str:
    return _ident(login).partition(" <")[2].rstrip(">")


def _commit_meta(git: GitRepo, sha: str) -> tuple[str, list[str], str, str]:
    """A commit's tree, parents, author name and author email."""
    tree, parents, name, email = git.git("log", "-1", "--format=%T%x00%P%x00%an%x00%ae", sha).rstrip("\n").split("\0")
    return tree, parents.split(), name, email


def _removal(git: GitRepo, branch: str) -> str:
    remote = f" (and `git push origin --delete {branch}` if it was pushed)" if git.has_remote() else ""
    return f"remove it with `git branch -D {branch}`{remote}, then run again"


def _open_pr_of(forge: Forge | None, branch: str) -> Any:
    """The open pull request from ``branch``, when the forge can tell (the local forge can)."""
    lookup = getattr(forge, "open_pull_request_for", None)
    return lookup(branch) if lookup else None


def _check_replaceable(git: GitRepo, forge: Forge | None, branch: str) -> None:
    """Refuse to replace the requester's own branch when its open pull request would keep describing the
    earlier change: a run without a forge (``--no-pr``) over a branch the local forge has an open pull request
    for, or a forge that cannot edit a pull request's title and description."""
    if forge is None:
        from mlgate.forge.local import LocalForge

        try:
            pr = LocalForge(git.root).open_pull_request_for(branch)
        except MlgateError:
            pr = None  # no local forge to speak of (or an unreadable one): nothing mlgate knows to be open
        if pr is not None:
            raise UsageError(
                f"branch {branch!r} holds your earlier run's change and is the head of open pull request "
                f"#{pr.number}: run again without --no-pr to update that pull request with this change"
            )
    elif getattr(forge, "edit_pull_request", None) is None:
        raise UsageError(
            f"branch {branch!r} holds your earlier run's change, and the {forge.name} forge cannot update its pull "
            f"request yet: close that pull request if it is open, {_removal(git, branch)}"
        )


def _is_ancestor(git: GitRepo, commit: str, of: str) -> bool:
    """Whether ``commit`` is reachable from ``of`` (False as well when git does not know ``commit``)."""
    try:
        git.git("merge-base", "--is-ancestor", commit, of)
    except GitError:
        return False
    return True


#: what :func:`_leftover` decides about a branch an earlier run left
REUSE, REPLACE, STALE = "reuse", "replace", "stale"


def _leftover(
    git: GitRepo, forge: Forge | None, *, branch: str, existing: str, base: str, base_sha: str, commit: str, author: str
) -> str:
    """What to do with ``branch``, left at ``existing`` by an earlier run; refuse when it is not ours to take.

    - STALE: its commit is already merged into the base (and no pull request is open from it): nothing of it
      would be lost, so this run's change replaces it.
    - REUSE: it holds exactly this run's change (one commit on the base as it is now, the same tree, made for
      the same requester), so the run takes it over.
    - REPLACE: it is this requester's own unmerged change (one commit on a commit of the base, made for the
      same requester) with other inputs: this run's change replaces it, and its open pull request, if any,
      now shows this change (its head moved: approvals of the earlier commit no longer count).

    Anything else is someone else's work (or more than a change of mlgate's) and is never replaced.
    """
    tree, parents, who, email = _commit_meta(git, existing)
    mine = _commit_meta(git, commit)
    pr = _open_pr_of(forge, branch)
    if pr is None and _is_ancestor(git, existing, base_sha):
        return STALE
    same_requester = email.lower() == mine[3].lower()
    if parents == [base_sha] and same_requester and tree == mine[0]:
        if pr is not None:
            raise PullRequestExists(
                pr.number,
                branch,
                f"branch {branch!r} already has an open pull request (#{pr.number}) with this very change: "
                "nothing to do",
            )
        return REUSE
    on_base = len(parents) == 1 and _is_ancestor(git, parents[0], base_sha)
    if on_base and same_requester:
        _check_replaceable(git, forge, branch)
        return REPLACE
    why = []
    if not on_base:
        why.append(f"it is not one commit on {base}")
    if not same_requester:
        why.append(f"it was made for {who} <{email}>, not for {author}")
    if tree != mine[0]:
        why.append("its files differ from what this run would write")
    what = f"branch {branch!r} already exists with another change ({'; '.join(why)})"
    if pr is not None:
        raise UsageError(
            f"{what}; it is the head of open pull request #{pr.number}: settle that pull request first "
            f"(merge it, or close it with `mlgate pr close {pr.number}` and remove the branch with "
            f"`git branch -D {branch}`)"
        )
    raise UsageError(f"{what}: {_removal(git, branch)}")


def _publish(
    git: GitRepo,
    *,
    kind: str,
    base: str,
    base_sha: str,
    branch: str,
    commit: str,
    title: str,
    body: str,
    forge: Forge | None,
    author: str,
    labels: Sequence[str],
    version: int | None = None,
    gate: AliasChange | None = None,
) -> Proposal:
    """Create ``branch`` at ``commit``, push it when there is a remote, open the pull request; undo on failure.

    A branch left by an earlier run is taken over when it holds exactly this run's change, replaced when it
    is the same requester's own unmerged change or already merged (see :func:`_leftover`), so the command can
    simply be run again, with the same inputs or new ones; anyone else's branch is refused. The whole step
    holds a per-branch lock shared by every process of this repository, and each ref moves compare-and-swap
    (locally, and on the remote with a lease): of two runs at once, one publishes and the other stops with a
    message. On failure a run puts back only the refs it moved itself.
    """
    try:
        with git.lock(f"publish {branch}", wait=False):
            return _publish_locked(
                git,
                kind=kind,
                base=base,
                base_sha=base_sha,
                branch=branch,
                commit=commit,
                title=title,
                body=body,
                forge=forge,
                author=author,
                labels=labels,
                version=version,
                gate=gate,
            )
    except LockBusy:
        raise UsageError(
            f"another mlgate run is publishing branch {branch!r} right now: let it finish "
            f"(and run this again if it fails)"
        ) from None


def _publish_locked(
    git: GitRepo,
    *,
    kind: str,
    base: str,
    base_sha: str,
    branch: str,
    commit: str,
    title: str,
    body: str,
    forge: Forge | None,
    author: str,
    labels: Sequence[str],
    version: int | None,
    gate: AliasChange | None,
) -> Proposal:
    body = f"{body.rstrip()}\n\n{requester_trailer(author)}\n"  # machine-readable: who asked (never approves)
    existing = git.branch_sha(branch)
    decision = None
    if existing is not None:
        decision = _leftover(
            git, forge, branch=branch, existing=existing, base=base, base_sha=base_sha, commit=commit, author=author
        )
        if decision == REUSE:
            commit = existing
    replaced = existing if decision in (REPLACE, STALE) else None
    created = moved = False
    remote: tuple[bool, str | None] = (False, None)
    updated_pr = False
    try:
        if existing is None:
            try:
                git.set_branch(branch, commit, None)  # create-only: git refuses if the branch appeared meanwhile
            except GitError:
                # git changed nothing: whatever is there now is another process's, even at this very commit
                now = git.branch_sha(branch)
                if now is not None:
                    raise UsageError(
                        f"branch {branch!r} was created by another process while this run was "
                        f"publishing it (at {now[:12]}); this run left it alone"
                    ) from None
                raise
            except BaseException:
                created = git.branch_sha(branch) == commit  # interrupted after git created it: it is this run's
                raise
            created = True
        elif replaced is not None:
            try:
                git.set_branch(branch, commit, replaced)  # compare-and-swap: only from the commit judged above
            except GitError:
                raise UsageError(
                    f"branch {branch!r} moved while this run was replacing it; this run left it alone"
                ) from None
            except BaseException:
                moved = git.branch_sha(branch) == commit
                raise
            moved = True
        if git.has_remote():
            remote = _push(git, branch, commit, reused=decision == REUSE, replacing=replaced, base_sha=base_sha)
        pr = None
        if forge is not None:
            earlier = _open_pr_of(forge, branch) if replaced is not None else None
            edit = getattr(forge, "edit_pull_request", None)
            if earlier is not None and edit is not None:
                pr = edit(earlier.number, title=title, body=body)
                updated_pr = True
            else:
                pr = forge.open_pull_request(
                    title=title, body=body, head=branch, base=base, labels=labels, author=author
                )
    except BaseException:
        _undo_remote(git, branch, commit, remote)
        if created and git.branch_sha(branch) == commit:
            git.delete_branch(branch, commit)
        if moved and replaced is not None and git.branch_sha(branch) == commit:
            git.set_branch(branch, replaced, commit)
        raise
    return Proposal(
        kind,
        branch,
        base,
        commit,
        title,
        body,
        pr,
        version,
        gate,
        reused=decision == REUSE,
        replaced=replaced,
        stale=decision == STALE,
        updated_pr=updated_pr,
    )


def _lease_push(git: GitRepo, branch: str, commit: str, expected: str) -> None:
    """Point ``branch`` on origin at ``commit`` only if it is still at ``expected`` (a lease)."""
    ref = f"refs/heads/{branch}"
    git.git("push", "--quiet", f"--force-with-lease={ref}:{expected}", "origin", f"{commit}:{ref}")


def _undo_remote(git: GitRepo, branch: str, commit: str, remote: tuple[bool, str | None]) -> None:
    """Put origin's ``branch`` back as it was before this run pushed ``commit`` (only while it is still there)."""
    changed, before = remote
    if not changed:
        return
    try:
        if before is None:
            git.delete_remote_branch(branch, commit)
        else:
            _lease_push(git, branch, before, commit)
    except MlgateError:
        pass  # the remote refused or moved on: the error being raised says what failed


def _push(
    git: GitRepo, branch: str, commit: str, *, reused: bool, replacing: str | None, base_sha: str
) -> tuple[bool, str | None]:
    """Push ``branch`` at ``commit``: create-only, or over what this run replaces (a lease on what origin holds).

    Returns whether this push changed origin and what origin held before (None: this push created it), so
    that undoing puts back exactly that. Origin's branch is replaced only when it holds the change this run
    replaces locally, or a change already merged into the base.
    """
    if replacing is not None:
        there = git.remote_branch_sha(branch)
        if there is None:
            return git.push(branch, create_only=True), None
        if there == commit:
            return False, None
        if there == replacing or _is_ancestor(git, there, base_sha):
            _lease_push(git, branch, commit, there)
            return True, there
        raise UsageError(
            f"branch {branch!r} on origin holds another change (at {there[:12]}) than the one this run replaces; "
            f"this run left it alone: if it is a leftover of yours, remove it with "
            f"`git push origin --delete {branch}`, then run again"
        )
    try:
        made = git.push(branch, create_only=True)
    except GitError as e:
        try:
            there = git.remote_branch_sha(branch)
        except GitError:
            raise e from None
        if there is None or there == commit:
            raise
        if _is_ancestor(git, there, base_sha):  # a merged branch nobody deleted: stale, nothing of it is lost
            _lease_push(git, branch, commit, there)
            return True, there
        raise UsageError(
            f"branch {branch!r} already exists on origin with another change (at {there[:12]}), pushed by "
            f"someone else or by an earlier run; this run left it alone: if it is a leftover of yours, "
            f"remove it with `git push origin --delete {branch}`, then run again"
        ) from e
    if not made and not reused:
        # the remote already had this very commit: another run pushed it, so it is that run's to publish or remove
        raise UsageError(
            f"branch {branch!r} is already on origin, pushed by another run: this run removed its own "
            f"local branch and left the remote one alone"
        )
    return made, None


def _require_valid(git: GitRepo, base_sha: str, commit: str, what: str) -> None:
    """Refuse to publish a change the validator would reject (gates aside: they need review)."""
    head, base = GitTree(git, commit), GitTree(git, base_sha)
    report = validate(head, base, git.changed_paths(base_sha, commit, watched(base)), gates=False)
    problems = [f for f in report.errors if family(f.rule) not in (Family.GATE, Family.POLICY)]
    if problems:
        listing = "; ".join(f"{f.path}: {f.rule} {f.message}" for f in problems[:5])
        raise UsageError(f"{what} would not pass validation: {listing}")


#: what the description of a proposal may be: the text, or a function of the validated commit that returns the
#: text and the gate result shown with it (when the description judges the change itself)
Describe = Callable[[str], tuple[str, AliasChange | None]]


def _commit_and_publish(
    git: GitRepo,
    *,
    base: str,
    base_sha: str,
    files: Mapping[str, bytes | None],
    message: str,
    title: str,
    body: str | Describe,
    kind: str,
    branch: str,
    forge: Forge | None,
    author: str,
    labels: Sequence[str],
    version: int | None = None,
    gate: AliasChange | None = None,
) -> Proposal:
    """``files`` as one commit on ``base_sha`` (:func:`_commit`), refused unless it passes validation
    (:func:`_require_valid`), then published on ``branch`` with its pull request (:func:`_publish`).

    The commit is only an object until it is published: a refused change moves no ref, so repository and branches
    stay as they were. ``body`` may be a function of the validated commit (called before anything is published)
    returning the description and the gate result to record (``gate`` is then ignored).
    """
    commit = _commit(git, base_sha, dict(files), message, author)
    _require_valid(git, base_sha, commit, title)
    if callable(body):
        body, gate = body(commit)
    return _publish(
        git,
        kind=kind,
        base=base,
        base_sha=base_sha,
        branch=branch,
        commit=commit,
        title=title,
        body=body,
        forge=forge,
        author=author,
        labels=labels,
        version=version,
        gate=gate,
    )


# --- register -------------------------------------------------------------------------


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


def _earlier_created_at(git: GitRepo, branch: str, base_sha: str, author: str, path: str) -> str | None:
    """The ``created_at`` of the same registration left on ``branch`` by an earlier run of this requester.

    A re-run reuses it, so that when everything else is the same it writes the very same tree and can
    take over the branch (see :func:`_leftover`, which still compares the whole tree).
    """
    sha = git.branch_sha(branch)
    if sha is None:
        return None
    _, parents, _, email = _commit_meta(git, sha)
    if parents != [base_sha] or email.lower() != _email(author).lower():
        return None
    try:
        data = load(GitTree(git, sha).read(path), path).data
    except MlgateError:
        return None
    value = data.get("created_at") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def register(
    repo_path: str | os.PathLike[str],
    model: str,
    *,
    artifact: str,
    author: str,
    eval_file: str | os.PathLike[str] | None = None,
    metrics: Mapping[str, float] | None = None,
    eval_dataset: Mapping[str, Any] | None = None,
    card_file: str | os.PathLike[str] | None = None,
    card_text: str | None = None,
    evidence: dict[str, str] | None = None,
    lineage: dict[str, Any] | None = None,
    lineage_from: str | os.PathLike[str] | None = None,
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
    on_warning: Callable[[str], None] | None = None,
    tags: Mapping[str, str] | None = None,
) -> Proposal:
    """Write version N+1 of ``model`` (and its model.yaml if the model is new) on a branch, and open a PR.

    The evaluation is ``eval_file`` (an eval.yaml) or ``metrics`` measured on ``eval_dataset`` (``{"name": ...,
    "sha256": ...}``, or ``"file"`` instead of ``sha256`` to digest the data set), never both. The card is
    ``card_file`` or ``card_text``. ``lineage_from`` (a path to the training code's checkout) fills the
    lineage's ``git_sha`` and ``code_repo`` where ``lineage`` leaves them out.

    Everything missing is reported in one :class:`UsageError`, before anything is uploaded or written.
    What the base policy's gates would miss (card sections, evidence) does not stop the registration: each
    is passed to ``on_warning`` before the pull request opens, and returned in :attr:`Proposal.warnings`.
    """
    from mlgate.change import evidence as ev

    problem = layout.name_problem(model)
    if problem:
        raise UsageError(f"{model!r} is not a valid model name: {problem}")
    if eval_file is not None and (metrics or eval_dataset):
        raise UsageError(
            "give the evaluation either as a file (--eval) or as --metric/--eval-dataset options, not both"
        )
    if card_file is not None and card_text is not None:
        raise UsageError("give the model card as a file (--card) or as text, not both")
    warnings: list[str] = []
    lineage = dict(lineage or {})
    auto = None
    if lineage_from is not None:
        auto = ev.checkout_lineage(lineage_from)
        filled = {k: v for k, v in auto.fields().items() if not lineage.get(k)}
        lineage.update(filled)
        if auto.dirty and "git_sha" in filled:
            warnings.append(
                f"the training checkout {auto.root} has uncommitted changes: git_sha {auto.git_sha[:12]} "
                "is not exactly the code that trained this model"
            )
    git, base_sha, tree = _open_base(repo_path, base, author)
    versions = tree.listdir(f"{layout.model_dir(model)}/versions") or {}
    version = max((int(v) for v in versions if layout.VERSION_RE.match(v)), default=0) + 1
    new_model = tree.entry(layout.model_path(model)) is None
    missing = ev.missing_options(
        lineage=lineage,
        new_model=new_model,
        model_description=model_description,
        owners=owners,
        eval_file=eval_file,
        metrics=metrics,
        dataset=eval_dataset,
        card=card_file if card_text is None else card_text,
        checkout=auto,
    )
    if missing:
        raise UsageError(f"cannot register {model}: missing {'; '.join(missing)}")
    files: dict[str, bytes | None] = {}

    if new_model:
        model_doc = {
            "apiVersion": "mlgate/v1",
            "kind": "Model",
            "name": model,
            "description": model_description,
            "owners": list(owners),
        }
        _schema_check("Model", model_doc, "model.yaml")
        files[layout.model_path(model)] = dump(model_doc).encode()

    eval_doc = ev.eval_document(model, version, eval_file=eval_file, metrics=metrics, dataset=eval_dataset)
    _schema_check("EvalResult", eval_doc, f"eval.yaml (from {eval_file})" if eval_file else "eval.yaml")
    if card_text is not None:
        if not card_text.strip():
            raise UsageError("the model card is empty")
        card = card_text.encode("utf-8")
    else:
        assert card_file is not None  # missing_options said so otherwise
        card = _read_text_file(os.fspath(card_file), "the model card")

    branch = f"mlgate/register-{model}-v{version}"
    folder = layout.version_dir(model, version)
    evidence_map: dict[str, str] = {}
    for name, path in (evidence or {}).items():
        target = Path(path).name
        if target in ("version.yaml", "eval.yaml", "card.md") or target in evidence_map.values():
            raise UsageError(f"evidence {name!r}: file name {target!r} is taken; rename the file")
        evidence_map[name] = target
        files[f"{folder}/{target}"] = _read_text_file(path, f"evidence {name!r}")

    version_doc: dict[str, Any] = {
        "apiVersion": "mlgate/v1",
        "kind": "ModelVersion",
        "model": model,
        "version": version,
    }
    if description:
        version_doc["description"] = description
    version_doc.update(
        {
            "created_at": _earlier_created_at(git, branch, base_sha, author, layout.version_path(model, version))
            or _now(),
            "created_by": author,
            "lineage": {k: v for k, v in lineage.items() if v not in (None, {}, "")},
        }
    )
    if evidence_map:
        version_doc["evidence"] = evidence_map
    if tags:
        version_doc["tags"] = dict(tags)
    hints = {
        "lineage.run_id": "--run-id",
        "lineage.git_sha": "--git-sha",
        "lineage.code_repo": "--code-repo",
        "lineage.dataset": "--dataset-uri and --dataset-sha256",
    }
    # the artifact is the last input read (it may be uploaded): a version.yaml that cannot be valid stops first
    _schema_check("ModelVersion", {**version_doc, "artifact": _PLACEHOLDER_ARTIFACT}, "version.yaml", hints)
    info = _artifact(artifact, store, artifact_sha256, artifact_size, artifact_format, progress)
    if store is None and info.uri.startswith("file://"):
        warnings.append(
            f"the artifact is recorded as {info.uri}, which only machines with that path can read: "
            "pass --store URI to copy it into a shared artifact store"
        )
    version_doc["artifact"] = {"uri": info.uri, "sha256": info.sha256, "size": info.size, "format": info.format}
    version_doc = {k: version_doc[k] for k in (*_VERSION_ORDER, *version_doc) if k in version_doc}
    _schema_check("ModelVersion", version_doc, "version.yaml", hints)

    files[layout.version_path(model, version)] = dump(version_doc).encode()
    files[layout.eval_path(model, version)] = dump(eval_doc).encode()
    files[layout.card_path(model, version)] = card

    title = f"Register {model} v{version}"
    message = f"{title}\n\nArtifact {info.uri}\nsha256 {info.sha256}\n"
    body = (
        f"Registers **{model} v{version}**.\n\n| | |\n|---|---|\n| artifact | `{info.uri}` |\n"
        f"| sha256 | `{info.sha256}` |\n| size | {info.size:,} bytes ({info.format}) |\n"
        f"| run | `{version_doc['lineage'].get('run_id', '-')}` |\n\nA registration moves no alias: "
        f"promote it with `mlgate promote {model} {version} --alias ALIAS` once merged.\n"
    )

    def described(commit: str) -> tuple[str, AliasChange | None]:
        # the evidence the gates will ask for, judged on the validated commit, said before anything is published
        warnings.extend(
            ev.gate_gaps(tree, GitTree(git, commit), model, version, card.decode("utf-8", "replace"), evidence_map)
        )
        for warning in warnings:
            if on_warning is not None:
                on_warning(warning)
        return body, None

    proposal = _commit_and_publish(
        git,
        base=base,
        base_sha=base_sha,
        files=files,
        message=message,
        title=title,
        body=described,
        kind="register",
        branch=branch,
        forge=forge if open_pr else None,
        author=author,
        labels=[LABEL, "registration"],
        version=version,
    )
    return replace(proposal, warnings=tuple(warnings))


#: version.yaml's keys in the order they were always written (a stable file, minimal diffs)
_VERSION_ORDER = ("apiVersion", "kind", "model", "version", "description", "created_at", "created_by", "artifact")
#: stands in for the artifact while the rest of version.yaml is checked, before the artifact is read or uploaded
_PLACEHOLDER_ARTIFACT = {"uri": "file:///placeholder", "sha256": "0" * 64, "size": 0, "format": "bin"}


def _artifact(
    artifact: str,
    store: str | None,
    sha256: str | None,
    size: int | None,
    fmt: str | None,
    progress: Any,
) -> artifacts.ArtifactInfo:
    """What version.yaml records about the artifact: a remote URI as given, a local one read (and stored)."""
    if "://" in artifact and not artifact.startswith("file://"):
        if not sha256 or size is None or not fmt:
            raise UsageError(
                "a remote --artifact URI needs --sha256, --size and --format (mlgate cannot read it to compute them)"
            )
        return artifacts.ArtifactInfo(artifact, sha256, size, fmt)
    if artifact.startswith("file://"):
        from urllib.parse import unquote, urlparse

        local = unquote(urlparse(artifact).path)
    else:
        local = artifact
    info = artifacts.record_local(local, store, fmt, progress)
    if sha256 and sha256 != info.sha256:
        raise InputError(f"artifact sha256 is {info.sha256}, not the {sha256} given", path=local)
    return info


# --- promote / rollback ------------------------------------------------------------------


def _alias_bytes(tree: GitTree, model: str, alias: str, version: int, note: str | None) -> bytes:
    path = layout.alias_path(model, alias)
    doc: dict[str, Any] = {
        "apiVersion": "mlgate/v1",
        "kind": "Alias",
        "model": model,
        "alias": alias,
        "version": version,
    }
    if tree.entry(path) is not None:
        try:
            current = load(tree.read(path), path).data
            doc = {**current, "version": version} if isinstance(current, dict) else doc
            # moving the alias ends a rollout under way: judged as its completion (to the candidate), its abort
            # (the holder kept), or refused (MG410) for any other version
            doc.pop("rollout", None)
        except YamlError:
            pass
    if note is not None:
        doc["note"] = note
    elif "note" in doc:
        del doc["note"]  # the old note described the old version
    return dump(doc).encode()


def _judge(
    git: GitRepo,
    tree: GitTree,
    model: str,
    alias: str,
    to_v: int | None,
    from_v: int | None,
    after: bytes,
    claims: Sequence[Claim] = (),
) -> AliasChange:
    """The alias change from the base to the alias file ``after``, a rollout under way on either side included;
    a rollback when one of ``claims`` (written into the change's commit message) proves it."""
    path = layout.alias_path(model, alias)
    before = readers.alias_state(tree.read(path), path)[1] if tree.entry(path) is not None else None
    then = readers.alias_state(after, path)[1]
    return judge_before_review(
        tree,
        model,
        alias,
        from_v,
        to_v,
        reason="reviewers approve this pull request",
        rollout_before=Rollout.from_manifest(before) if before else None,
        rollout_after=Rollout.from_manifest(then) if then else None,
        claims=claims,
    )


def _last_held(git: GitRepo, base_sha: str, path: str, version: int) -> str | None:
    """The newest first-parent commit of ``base_sha`` at which the alias file at ``path`` held ``version``.

    Walks the alias file's history (one ``git log``): this is the rollback command's cost, never the pull
    request check's, which verifies the commit named in O(1) (see check.rollback).
    """
    for sha, blob in git.file_history(base_sha, path):
        if readers.alias_version_or_none(blob, path) == version:
            return sha
    return None


def _current(tree: GitTree, model: str, alias: str) -> int | None:
    path = layout.alias_path(model, alias)
    if tree.entry(path) is None:
        return None
    return readers.alias_version(tree.read(path), path)  # the registry's one reader; ManifestError exits 2


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
    _check_names(model, alias)
    git, base_sha, tree = _open_base(repo_path, base, author)
    from mlgate.registry.snapshot import Registry

    reg = Registry(tree)
    try:
        reg.version(model, version)
    except NotFoundError as e:
        raise NotFoundError(f"{e} on {base} (a version must be merged before it is promoted)") from None
    current = _current(tree, model, alias)
    if current == version:
        raise UsageError(f"{model}@{alias} already points at version {version} on {base}")
    content = _alias_bytes(tree, model, alias, version, note)
    change = _judge(git, tree, model, alias, version, current, content)
    if change.status == FAIL and not force:
        raise GateFailed(change, _gate_failure(change))
    files: dict[str, bytes | None] = {layout.alias_path(model, alias): content}
    verb = "Roll back" if change.kind == "rollback" else "Promote"
    title = f"{verb} {model} v{version} to {alias}"
    intro = (
        f"Moves **{model}@{alias}** from {f'v{current}' if current else '(unset)'} to **v{version}** ({change.kind})."
    )
    return _commit_and_publish(
        git,
        kind="promote",
        base=base,
        base_sha=base_sha,
        files=files,
        message=f"{title}\n",
        branch=f"mlgate/promote-{model}-{alias}-v{version}",
        title=title,
        body=_body(change, intro),
        forge=forge if open_pr else None,
        author=author,
        labels=[LABEL, change.kind],
        version=version,
        gate=change,
    )


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
    force: bool = False,
) -> Proposal:
    """Revert the last change of ``alias`` on ``base`` (or point it back at ``to``) on a branch, and open a PR.

    The gate is judged first, as :func:`promote` does: if a gate other than approvals already fails (the
    target was deprecated since, its metrics no longer meet the policy...), :class:`GateFailed` (exit 1)
    and nothing is created, unless ``force``.
    """
    _check_names(model, alias)
    git, base_sha, tree = _open_base(repo_path, base, author)
    path = layout.alias_path(model, alias)
    current = _current(tree, model, alias)
    if current is None:
        raise NotFoundError(f"{model}@{alias} is not set on {base}: nothing to roll back")
    if to is not None:
        from mlgate.registry.snapshot import Registry

        Registry(tree).version(model, to)
        if to == current:
            raise UsageError(f"{model}@{alias} already points at version {to} on {base}")
        content = _alias_bytes(tree, model, alias, to, f"Rolled back from v{current}.")
        title = f"Roll back {model}@{alias} to v{to}"
        held = _last_held(git, base_sha, path, to)
        # the commit where the alias last held the target: the proof the validator checks (no proof, no
        # rollback gate: a version the alias never held is judged as a promotion)
        claims = [Claim(HELD, held)] if held else []
        message = f"{title}\n" + "".join(f"\n{c.trailer()}\n" for c in claims)
        target = to
    else:
        history = git.file_history(base_sha, path, limit=2)
        last_sha = history[0][0]
        previous = history[1][1] if len(history) > 1 else None
        if previous is None:
            raise UsageError(
                f"{model}@{alias} has no earlier version on {base}'s history to go back to; pass --to VERSION"
            )
        content = previous
        target = readers.alias_version(previous, path)
        subject = git.subject(last_sha)
        title = f'Revert "{subject}"'
        claims = [Claim(REVERT, last_sha)]
        message = f"{title}\n\n{claims[0].trailer()}\n"
    change = _judge(git, tree, model, alias, target, current, content, claims)
    if change.status == FAIL and not force:
        raise GateFailed(change, _gate_failure(change))
    intro = f"Rolls **{model}@{alias}** back from v{current} to **v{target}** ({change.kind})."
    return _commit_and_publish(
        git,
        kind="rollback",
        base=base,
        base_sha=base_sha,
        files={path: content},
        message=message,
        branch=f"mlgate/rollback-{model}-{alias}-v{target}",
        title=title,
        body=_body(change, intro),
        forge=forge if open_pr else None,
        author=author,
        labels=[LABEL, "rollback"],
        version=target,
        gate=change,
    )


# --- the local forge's review and merge ------------------------------------------------------


def judge_pull_request(repo_path: str | os.PathLike[str], forge: Forge, number: int) -> Report:
    """Validate a pull request as its required check would: head against base, approvals from the forge."""
    pr = forge.pull_request(number)
    git = GitRepo(repo_path)
    base_sha = _base_sha(git, pr.base)
    head, base = GitTree(git, pr.head_sha), GitTree(git, base_sha)
    return validate(
        head, base, git.changed_paths(base_sha, pr.head_sha, watched(base)), reviews=ForgeReviews(forge, number)
    )


@dataclass(frozen=True)
class Merged:
    """A merged pull request: its merge commit, the report that let it merge, the head branches deleted."""

    number: int
    commit: str
    report: Report
    #: where the head branch was deleted: "local", "origin"
    deleted: tuple[str, ...] = ()
    branch: str = ""


def merge_pull_request(
    repo_path: str | os.PathLike[str], forge: Any, number: int, merged_by: str
) -> tuple[str, Report]:
    """Merge a local pull request (see :func:`merge`); returns the merge commit and the report."""
    merged = merge(repo_path, forge, number, merged_by)
    return merged.commit, merged.report


def merge(repo_path: str | os.PathLike[str], forge: Any, number: int, merged_by: str) -> Merged:
    """Merge a local pull request with a merge commit, refusing when validation fails (like a required check).

    The merge result is judged against the current base, with the PR's reviews. Then the head branch is
    deleted, as GitHub's "automatically delete head branches" does (here and on origin, each only while it is
    still at the merged commit), so a later run may use the same branch name again.
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
    merge_sha = git.write_commit([base_sha, pr.head_sha], {}, message, _ident(merged_by), tree=tree)
    report = validate(
        GitTree(git, merge_sha),
        GitTree(git, base_sha),
        git.changed_paths(base_sha, merge_sha, watched(GitTree(git, base_sha))),
        reviews=ForgeReviews(forge, number),
    )
    if not report.ok:
        raise MergeRefused(number, report)
    checked_out = git.current_branch() == pr.base
    if checked_out and not git.is_clean():
        raise UsageError(f"{pr.base} is checked out with uncommitted changes: commit or stash them before merging")
    git.set_branch(pr.base, merge_sha, base_sha)
    if checked_out:
        git.update_checkout(base_sha, merge_sha)
    forge.mark_merged(number, merge_sha, merged_by, pr.head_sha)
    forge.upsert_comment(number, report_markdown(report))
    return Merged(number, merge_sha, report, _delete_merged(git, pr.head, pr.head_sha), pr.head)


def _checked_out(git: GitRepo, branch: str) -> bool:
    """Whether ``branch`` is the current branch of this or another worktree of the repository."""
    out = git.git("for-each-ref", "--format=%(worktreepath)", f"refs/heads/{branch}")
    return bool(out.strip())


def _delete_merged(git: GitRepo, branch: str, head_sha: str) -> tuple[str, ...]:
    """Delete the merged head ``branch`` where it is still at ``head_sha`` (compare-and-swap); a branch that moved
    on, or that a worktree has checked out, is left alone. The merge is done either way."""
    deleted = []
    try:
        if git.branch_sha(branch) == head_sha and not _checked_out(git, branch):
            git.delete_branch(branch, head_sha)
            deleted.append("local")
        if git.has_remote() and git.remote_branch_sha(branch) == head_sha:
            git.delete_remote_branch(branch, head_sha)
            deleted.append("origin")
    except MlgateError:
        pass  # a branch that could not be deleted is stale: the next run over it replaces it
    return tuple(deleted)


_PR_NUMBER = re.compile(r"^#?([1-9][0-9]*)$")


def pr_number(text: str) -> int:
    m = _PR_NUMBER.match(text.strip())
    if not m:
        raise UsageError(f"{text!r} is not a pull request number")
    return int(m.group(1))
