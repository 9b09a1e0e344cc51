"""A registration's evidence without reading schemas: eval.yaml from metrics, a model card skeleton with the
sections the policy asks for, lineage from the training checkout, and what the policy's gates will miss.

:func:`mlgate.change.propose.register` builds on these; ``mlgate new card`` and ``mlgate register --metric ...
--lineage auto`` are their command-line faces.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mlgate.check.gates import Judge, card_sections
from mlgate.check.run import load_policy
from mlgate.core import layout
from mlgate.core.policy import DEFAULT, Gate
from mlgate.errors import GitError, InputError, UsageError
from mlgate.infra.git import GitRepo, GitTree
from mlgate.infra.yamlio import load

# --- eval.yaml ---------------------------------------------------------------------------------------------

#: the fields of eval.yaml that name what was evaluated: mlgate fills them, and refuses a file that says otherwise
_IDENTITY = ("apiVersion", "kind", "model", "version")


def metric_values(metrics: Mapping[str, Any]) -> dict[str, float | int]:
    """``metrics`` checked as finite numbers (a bool, a string or NaN is refused, naming the metric)."""
    out: dict[str, float | int] = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(f"metric {name!r}: expected a finite number, got {value!r}")
        out[str(name)] = value
    return out


def eval_dataset(dataset: Mapping[str, Any]) -> dict[str, str]:
    """eval.yaml's ``dataset`` from ``{name, sha256 | file, uri?}``: the digest is computed from ``file`` (a file
    or a folder, digested as :mod:`mlgate.registry.artifacts` digests artifacts) when it is not given."""
    unknown = sorted(set(dataset) - {"name", "sha256", "file", "uri"})
    if unknown:
        raise UsageError(f"eval dataset: unknown field(s) {', '.join(unknown)} (expected name, sha256 or file, uri)")
    out = {"name": str(dataset.get("name") or "")}
    if dataset.get("sha256") and dataset.get("file"):
        raise UsageError("eval dataset: give its sha256 or its file to digest (--eval-dataset-file), not both")
    if dataset.get("file"):
        from mlgate.registry.artifacts import describe_local

        try:
            out["sha256"] = describe_local(os.fspath(dataset["file"])).sha256
        except InputError as e:
            raise InputError(f"cannot digest the eval data set: {e.message}", path=e.path) from None
    elif dataset.get("sha256"):
        out["sha256"] = str(dataset["sha256"])
    if dataset.get("uri"):
        out["uri"] = str(dataset["uri"])
    return out


def eval_document(
    model: str,
    version: int,
    *,
    eval_file: str | os.PathLike[str] | None = None,
    metrics: Mapping[str, Any] | None = None,
    dataset: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The eval.yaml of ``model`` v``version``: from a file, or from ``metrics`` on ``dataset``.

    A file may leave out apiVersion, kind, model and version (they are filled in); one that names another
    model or version is refused, as the validator would (MG202), instead of being silently rewritten.
    """
    head: dict[str, Any] = {"apiVersion": "mlgate/v1", "kind": "EvalResult", "model": model, "version": version}
    if eval_file is None:
        return {**head, "dataset": eval_dataset(dataset or {}), "metrics": metric_values(metrics or {})}
    path = os.fspath(eval_file)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the eval file: {e.strerror}", path=path) from None
    data = load(raw, path).data
    if not isinstance(data, dict):
        raise InputError("the eval file must be a YAML mapping", path=path)
    for key in _IDENTITY:
        if key in data and data[key] != head[key]:
            what = {"model": "this registers model", "version": f"this registers {model} version"}.get(key, "expected")
            raise InputError(
                f"{key} is {data[key]!r} but {what} {head[key]!r} (MG202 name-mismatch): an eval written for "
                f"another model or version is not this one's evidence; fix the file or leave {key} out",
                path=path,
            )
    return {**head, **{k: v for k, v in data.items() if k not in _IDENTITY}}


# --- lineage from the training checkout ----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutLineage:
    """What ``--lineage auto`` read from the training code's git checkout."""

    root: str
    git_sha: str
    code_repo: str | None
    dirty: bool

    def fields(self) -> dict[str, str]:
        return {"git_sha": self.git_sha, **({"code_repo": self.code_repo} if self.code_repo else {})}


def public_url(url: str) -> str:
    """A remote URL fit to record: user and password (tokens) removed; ``git@host:path`` as ``ssh://host/path``."""
    scp = re.match(r"^(?:[^@/:]+@)?([^/:]+):(?!//)(.+)$", url)
    if scp and "://" not in url:
        return f"ssh://{scp.group(1)}/{scp.group(2)}"
    if "://" not in url:
        return Path(url).resolve().as_uri()  # a remote on this disk
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def checkout_lineage(path: str | os.PathLike[str] = ".") -> CheckoutLineage:
    """The commit and repository of the training checkout at ``path`` (the current folder by default)."""
    try:
        git = GitRepo(path)
    except GitError as e:
        raise UsageError(f"--lineage auto: {e} (run it from the training code's checkout, or name it)") from None
    try:
        try:
            sha = git.resolve("HEAD")
        except GitError:
            raise UsageError(f"--lineage auto: {git.root} has no commit yet: commit the training code first") from None
        remotes = git.git("remote").split()
        name = "origin" if "origin" in remotes else remotes[0] if len(remotes) == 1 else None
        url = git.git("remote", "get-url", name).strip() if name else None
        return CheckoutLineage(str(git.root), sha, public_url(url) if url else None, not git.is_clean())
    finally:
        git.close()


# --- what the registration must say --------------------------------------------------------------------------


def missing_options(
    *,
    lineage: Mapping[str, Any],
    new_model: bool,
    model_description: str | None,
    owners: Sequence[str],
    eval_file: object,
    metrics: Mapping[str, Any] | None,
    dataset: Mapping[str, Any] | None,
    card: object,
    checkout: CheckoutLineage | None = None,
) -> list[str]:
    """Every option a registration lacks, as the flags that give it (empty when nothing is missing);
    ``checkout``: what ``--lineage`` found, if it was given."""
    missing = []
    if not lineage.get("run_id"):
        missing.append("--run-id")
    for key, flag in (("git_sha", "--git-sha"), ("code_repo", "--code-repo")):
        if not lineage.get(key):
            why = f"{checkout.root} has no remote to take it from" if checkout else "or --lineage auto"
            missing.append(f"{flag} ({why})")
    data = lineage.get("dataset") or {}
    for key, flag in (("uri", "--dataset-uri"), ("sha256", "--dataset-sha256")):
        if not data.get(key):
            missing.append(flag)
    if eval_file is None:
        if not metrics:
            missing.append("--eval FILE or --metric NAME=NUMBER")
        if not (dataset or {}).get("name"):
            missing.append("--eval-dataset NAME (or --eval FILE)")
        if not (dataset or {}).get("sha256") and not (dataset or {}).get("file"):
            missing.append("--eval-dataset-sha256 DIGEST or --eval-dataset-file PATH (or --eval FILE)")
    if card is None:
        missing.append("--card FILE (`mlgate new card` writes one)")
    if new_model:
        lacking = ([] if model_description else ["--model-description"]) + ([] if owners else ["at least one --owner"])
        if lacking:
            missing.append(f"{' and '.join(lacking)} (the model is new)")
    return missing


# --- the policy's card sections and evidence ----------------------------------------------------------------

#: sections every card gets, required or not, and what each asks for
RECOMMENDED = {
    "Intended use": "What the model is for, who relies on it, and what it must not be used for.",
    "Training data": "Which data, which period, how it was sampled and labelled.",
    "Evaluation": "The evaluation data set and the metrics in eval.yaml, overall and per slice.",
    "Limitations": "Where the model is known to be weak, biased or out of its depth.",
}


@dataclass(frozen=True)
class CardSkeleton:
    """A model card to fill in: ``text``, and the sections each alias's gate requires (alias -> sections)."""

    text: str
    required: Mapping[str, tuple[str, ...]]


def _policy_gates(tree: GitTree, head: GitTree | None, model: str | None) -> dict[str, Gate]:
    """The gate of each alias the policy of ``tree`` names (``*`` included), tightened by the model's own."""
    policy, found = load_policy(tree)
    if found:
        raise InputError(found[0].message, path=layout.POLICY)
    if policy is None:
        return {}
    aliases = list(policy.gates)
    gates: dict[str, Gate] = {}
    judge = Judge(head or tree, tree, policy)
    if model is not None:
        doc = judge.load(judge.base, layout.model_path(model), "Model") or judge.load(
            judge.head, layout.model_path(model), "Model"
        )
        aliases += [a for a in ((doc.data.get("policy") or {}).get("aliases") or {}) if a not in aliases] if doc else []
    for alias in aliases:
        gate = judge.gate_of(model, alias)[0] if model is not None else policy.gate_for(alias)[0]
        if gate is not None:
            gates[alias] = gate
    return gates


def _alias_words(alias: str) -> str:
    return "any other alias" if alias == DEFAULT else alias


def card_skeleton(
    repo_path: str | os.PathLike[str], *, model: str | None = None, aliases: Sequence[str] = (), base: str = "main"
) -> CardSkeleton:
    """A model card with every section the policy on ``base`` requires for ``aliases`` (all the aliases it names
    when empty), tightened by ``model``'s own policy, plus the recommended ones; each section holds only an HTML
    comment, which the card gate does not count as content, so a card left unfilled still fails its gate."""
    for name in (model, *aliases):
        problem = None if name is None else layout.name_problem(name)
        if problem:
            raise UsageError(f"{name!r} is not a valid name: {problem}")
    git = GitRepo(repo_path)
    try:
        sha = git.branch_sha(base)
        if sha is None:
            raise UsageError(f"no branch {base!r} in {git.root}: pass --base with the registry's target branch")
        gates = _policy_gates(GitTree(git, sha), None, model)
    finally:
        git.close()
    chosen = list(aliases) or list(gates)
    required: dict[str, tuple[str, ...]] = {}
    for alias in chosen:
        gate = gates.get(alias) or gates.get(DEFAULT)
        required[alias] = gate.card_sections if gate else ()
    sections: list[str] = []
    for names in (*required.values(), tuple(RECOMMENDED)):
        sections += [s for s in names if s.lower() not in {x.lower() for x in sections}]
    lines = [f"# Model card: {model or 'MODEL'}", ""]
    needs = [f"{_alias_words(a)}: {', '.join(s)}" for a, s in required.items() if s]
    lines += [
        "<!-- Written by `mlgate new card`. Replace each comment with text: a section that holds only a comment is",
        "     empty to the card gate. "
        + (f"Required by the policy on {base}: {'; '.join(needs)}." if needs else "The policy requires none.")
        + " -->",
        "",
    ]
    for section in sections:
        hint = RECOMMENDED.get(section, "Write this section.")
        lines += [f"## {section}", "", f"<!-- {hint} -->", ""]
    return CardSkeleton("\n".join(lines), required)


def gate_gaps(
    tree: GitTree, head: GitTree, model: str, version: int, card: str, evidence: Mapping[str, str]
) -> list[str]:
    """What the version's card and evidence lack for the gates of the policy on ``tree``, one line per alias.

    Each line is a warning: the registration may be merged as it is, but a merged version is immutable, so
    it could never be promoted to that alias.
    """
    try:
        gates = _policy_gates(tree, head, model)
    except InputError as e:
        return [f"cannot tell what the policy's gates require: {e}"]
    found = card_sections(card)
    out = []
    for alias, gate in gates.items():
        problems = []
        missing = [s for s in gate.card_sections if s.lower() not in found]
        empty = [s for s in gate.card_sections if s.lower() in found and not found[s.lower()]]
        if missing:
            problems.append(f"card.md has no section {', '.join(repr(s) for s in missing)}")
        if empty:
            problems.append(f"card.md's section {', '.join(repr(s) for s in empty)} shows no text")
        lacking = [e for e in gate.evidence if e not in ("eval", "card") and e not in evidence]
        if lacking:
            problems.append(f"no evidence {', '.join(repr(e) for e in lacking)} (--evidence NAME=FILE)")
        if problems:
            out.append(
                f"{model} v{version} could never be promoted to {_alias_words(alias)}: {'; '.join(problems)}, "
                f"which its gate requires (a merged version is immutable: fix it before merging)"
            )
    return out


def write_new(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to a new file at ``path``, refusing to replace an existing one; all or nothing."""
    target = Path(path)
    if target.exists() or target.is_symlink():
        raise UsageError(f"{target} already exists: mlgate never overwrites it (choose another -o, or remove it)")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {target}: no folder {target.parent}")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.link(tmp, target)  # atomic, and fails if the target appeared meanwhile
    except FileExistsError:
        raise UsageError(f"{target} already exists: mlgate never overwrites it") from None
    except OSError as e:
        raise UsageError(f"cannot write {target}: {e.strerror or e}") from None
    finally:
        tmp.unlink(missing_ok=True)
