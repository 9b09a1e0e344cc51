"""The Python API for training and promotion scripts: register a version, promote it, as pull requests.

What ``mlgate register`` and ``mlgate promote`` do, callable from the script that trained the model (MLflow
users have ``mlflow.register_model``)::

    import mlgate

    pr = mlgate.register(
        "fraud-detector",
        artifact="out/model.onnx",
        metrics={"auc": 0.93, "latency_p99_ms": 31},
        eval_dataset={"name": "holdout", "file": "data/holdout.parquet"},
        card="out/card.md",
        run_id=run.info.run_id,
        training_data={"uri": "s3://acme-data/q3.parquet", "sha256": data_digest},
        repo="~/src/model-registry",          # a checkout of the registry repository
        forge="github",                        # or "local", or a forge object
    )
    print(pr.number, pr.url, pr.branch, pr.version)

Each call opens one pull request and returns a :class:`PullRequestInfo`; nothing is merged. Errors are the
documented classes of :mod:`mlgate.errors` (``UsageError`` for bad input, ``GateFailed`` when a promotion's gate
already fails, ``NotFoundError`` for an unknown model or version...); a failed call leaves the repository and
its branches as they were. Who acts is ``author``, else ``$MLGATE_USER``, git config ``mlgate.user`` or the
forge's own account; the target branch is ``base``, else the repository's default branch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from mlgate.change.identity import acting_login
from mlgate.errors import UsageError
from mlgate.forge import Forge, open_forge
from mlgate.infra.defaults import default_branch

#: ``"local"``, ``"github"``, a forge object (e.g. :class:`mlgate.forge.local.LocalForge`), or None for a branch
#: without a pull request
ForgeArg = Union[str, Forge, None]


@dataclass(frozen=True)
class PullRequestInfo:
    """The pull request a call opened (``number`` and ``url`` are None when no pull request was asked for)."""

    number: int | None
    url: str | None
    branch: str
    base: str
    commit: str
    title: str
    kind: str
    version: int | None
    #: what the base policy's gates would miss (e.g. a card section the champion gate requires)
    warnings: tuple[str, ...] = ()
    #: the gate report of a promotion, as Markdown (the pull request's description)
    report: str | None = None


#: the command line's options, as this API's keywords, for the messages of errors raised below it
_KEYWORDS = (
    (
        "--eval-dataset-sha256 DIGEST or --eval-dataset-file PATH (or --eval FILE)",
        "eval_dataset={'sha256': ...} or {'file': PATH} (or eval_file=)",
    ),
    ("--eval-dataset NAME (or --eval FILE)", "eval_dataset={'name': ...} (or eval_file=)"),
    ("--eval FILE or --metric NAME=NUMBER", "metrics= (or eval_file=)"),
    ("--card FILE", "card= or card_text="),
    ("--lineage auto", "lineage_from="),
    ("--run-id", "run_id="),
    ("--git-sha", "git_sha="),
    ("--code-repo", "code_repo="),
    ("--dataset-uri", "training_data={'uri': ...}"),
    ("--dataset-sha256", "training_data={'sha256': ...}"),
    ("--model-description", "model_description="),
    ("at least one --owner", "owners=[...]"),
)


def _in_keywords(error: UsageError) -> UsageError:
    """``error`` with the options it names spelled as this API's keywords."""
    text = str(error)
    for option, keyword in _KEYWORDS:
        text = text.replace(option, keyword)
    return UsageError(text) if text != str(error) else error


def _forge(forge: ForgeArg, repo: str | os.PathLike[str]) -> Forge | None:
    if forge is None or not isinstance(forge, str):
        return forge
    return open_forge(forge, repo)


def _info(proposal: Any) -> PullRequestInfo:
    pr = proposal.pr
    return PullRequestInfo(
        number=None if pr is None else pr.number,
        url=None if pr is None else pr.url,
        branch=proposal.branch,
        base=proposal.base,
        commit=proposal.commit,
        title=proposal.title,
        kind=proposal.kind,
        version=proposal.version,
        warnings=tuple(getattr(proposal, "warnings", ()) or ()),
        report=proposal.body if proposal.gate is not None else None,
    )


def _setup(
    repo: str | os.PathLike[str], forge: ForgeArg, author: str | None, base: str | None
) -> tuple[str, Forge | None, str, str]:
    root = os.fspath(Path(repo).expanduser())
    opened = _forge(forge, root)
    login = acting_login(root, author, forge=opened)
    return root, opened, login, base or default_branch(root)


def register(
    model: str,
    *,
    artifact: str | os.PathLike[str],
    metrics: Mapping[str, float] | None = None,
    eval_dataset: Mapping[str, Any] | None = None,
    eval_file: str | os.PathLike[str] | None = None,
    card: str | os.PathLike[str] | None = None,
    card_text: str | None = None,
    run_id: str | None = None,
    git_sha: str | None = None,
    code_repo: str | None = None,
    training_data: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    environment: Mapping[str, str] | None = None,
    lineage_from: str | os.PathLike[str] | None = None,
    evidence: Mapping[str, str | os.PathLike[str]] | None = None,
    description: str | None = None,
    model_description: str | None = None,
    owners: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    artifact_sha256: str | None = None,
    artifact_size: int | None = None,
    artifact_format: str | None = None,
    store: str | None = None,
    repo: str | os.PathLike[str] = ".",
    forge: ForgeArg = "local",
    author: str | None = None,
    base: str | None = None,
) -> PullRequestInfo:
    """Register the next version of ``model`` and open its pull request (see the module's example).

    The evaluation is ``metrics`` measured on ``eval_dataset`` (``{"name": ..., "sha256": ...}`` or
    ``{"name": ..., "file": PATH}`` to digest the data set) or an ``eval_file``; the card is a ``card`` file or
    ``card_text``. The lineage is ``run_id``, ``git_sha``, ``code_repo`` and ``training_data`` (``{"uri",
    "sha256"}``), with ``params`` and ``environment``; ``lineage_from`` (the training code's checkout) fills
    ``git_sha`` and ``code_repo``. Every missing input is reported in one :class:`~mlgate.errors.UsageError`.
    A new model also needs ``model_description`` and ``owners``. ``tags`` are the version's free-form labels.
    """
    from mlgate.change.propose import register as propose_register

    root, opened, login, target = _setup(repo, forge, author, base)
    lineage: dict[str, Any] = {"run_id": run_id, "git_sha": git_sha, "code_repo": code_repo}
    if training_data:
        lineage["dataset"] = dict(training_data)
    if params:
        lineage["params"] = dict(params)
    if environment:
        lineage["environment"] = dict(environment)
    try:
        proposal = propose_register(
            root,
            model,
            artifact=os.fspath(artifact),
            author=login,
            eval_file=eval_file,
            metrics=metrics,
            eval_dataset=eval_dataset,
            card_file=card,
            card_text=card_text,
            evidence={name: os.fspath(path) for name, path in (evidence or {}).items()},
            lineage=lineage,
            lineage_from=lineage_from,
            artifact_sha256=artifact_sha256,
            artifact_size=artifact_size,
            artifact_format=artifact_format,
            store=store,
            description=description,
            model_description=model_description,
            owners=owners,
            base=target,
            forge=opened,
            open_pr=opened is not None,
            tags=tags,
        )
    except UsageError as e:
        raise _in_keywords(e) from None
    return _info(proposal)


def promote(
    model: str,
    version: int,
    alias: str,
    *,
    note: str | None = None,
    force: bool = False,
    repo: str | os.PathLike[str] = ".",
    forge: ForgeArg = "local",
    author: str | None = None,
    base: str | None = None,
) -> PullRequestInfo:
    """Open the pull request that points ``alias`` of ``model`` at ``version``; its description is the gate
    report (:attr:`PullRequestInfo.report`). Raises :class:`~mlgate.errors.GateFailed` when a gate other than
    approvals already fails (``force=True`` opens it anyway, for discussion)."""
    from mlgate.change.propose import promote as propose_promote

    root, opened, login, target = _setup(repo, forge, author, base)
    proposal = propose_promote(
        root,
        model,
        version,
        alias,
        author=login,
        note=note,
        force=force,
        base=target,
        forge=opened,
        open_pr=opened is not None,
    )
    return _info(proposal)
