"""The write side of progressive rollouts: start, step, complete, abort and evidence, each a pull request
whose description is the gate report (as ``promote`` makes them), and ``status``, where a rollout stands.

Every command reads the alias (and its rollout) on the base branch, writes the one file it changes in a
commit on top of it, judges the change with the base's policy before publishing (a failing gate creates
nothing unless ``force``), checks the commit with the validator, and publishes through the proposal
machinery of :mod:`mlgate.change.propose` (re-runs take over their own branch; nothing is left half-written).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any

from mlgate.change.propose import (
    LABEL,
    Proposal,
    _base_sha,
    _body,
    _check_names,
    _commit_and_publish,
    _gate_failure,
    _open_base,
)
from mlgate.check.gates import ROLLOUT_EVIDENCE, AliasChange, Judge
from mlgate.check.rollout import evidence_of, mismatch, online_checks, pct
from mlgate.check.run import judge_before_review, load_policy
from mlgate.core import layout
from mlgate.core.model import ROLLOUT_MODES, Alias, Rollout
from mlgate.core.policy import RolloutGate
from mlgate.core.rollout import RolloutChange, next_step
from mlgate.core.rules import FAIL, PASS
from mlgate.core.times import format_time
from mlgate.errors import GateFailed, InputError, NotFoundError, UsageError
from mlgate.forge import Forge
from mlgate.infra import schemas
from mlgate.infra.git import GitRepo, GitTree
from mlgate.infra.yamlio import YamlError, dump, field_path, load
from mlgate.registry.names import check_model
from mlgate.registry.snapshot import Registry

#: an evidence document (JSON) is read whole; past this it is refused
MAX_EVIDENCE_JSON = 1024 * 1024
#: what an evidence document may carry: the measurements, and the fields mlgate fills from the alias (if given,
#: they must agree with it)
MEASURED = ("window", "requests", "metrics", "source")
FILLED = ("model", "alias", "candidate", "holder", "mode", "percent")


@dataclass(frozen=True)
class _Base:
    """The base branch as a command sees it: the repository, its commit and tree, the alias on it."""

    git: GitRepo
    sha: str
    tree: GitTree
    alias: Alias | None
    path: str


def _base(repo_path: str | os.PathLike[str], model: str, alias: str, base: str, author: str) -> _Base:
    _check_names(model, alias)
    git, sha, tree = _open_base(repo_path, base, author)
    reg = Registry(tree)
    check_model(reg, model)  # UnknownModel with a did-you-mean
    current = reg.aliases(model).get(alias)
    return _Base(git, sha, tree, current, layout.alias_path(model, alias))


def _rollout_gate(tree: GitTree, model: str, alias: str) -> RolloutGate | None:
    policy, _ = load_policy(tree)
    gate, _ = Judge(tree, tree, policy).gate_of(model, alias) if policy is not None else (None, None)
    return gate.rollout if gate is not None else None


def _alias_bytes(current: Alias, version: int, rollout: Rollout | None, note: str | None) -> bytes:
    doc: dict[str, Any] = {
        "apiVersion": "mlgate/v1",
        "kind": "Alias",
        "model": current.model,
        "alias": current.alias,
        "version": version,
    }
    if note is not None:
        doc["note"] = note
    elif current.note is not None and version == current.version:
        doc["note"] = current.note  # the note still describes the version that holds the alias
    if rollout is not None:
        doc["rollout"] = rollout.to_manifest()
    return dump(doc).encode()


def _propose(
    b: _Base,
    *,
    model: str,
    alias: str,
    version: int,
    rollout: Rollout | None,
    kind: str,
    branch: str,
    title: str,
    intro: str,
    author: str,
    note: str | None,
    base: str,
    forge: Forge | None,
    open_pr: bool,
    force: bool,
) -> Proposal:
    assert b.alias is not None
    change = judge_before_review(
        b.tree,
        model,
        alias,
        b.alias.version,
        version,
        reason="reviewers approve this pull request",
        rollout_before=b.alias.rollout,
        rollout_after=rollout,
    )
    if change.status == FAIL and not force:
        raise GateFailed(change, _gate_failure(change))
    return _commit_and_publish(
        b.git,
        kind=kind,
        base=base,
        base_sha=b.sha,
        files={b.path: _alias_bytes(b.alias, version, rollout, note)},
        message=f"{title}\n",
        branch=branch,
        title=title,
        body=_body(change, intro),
        forge=forge if open_pr else None,
        author=author,
        labels=[LABEL, change.kind],
        version=rollout.candidate if rollout is not None else version,
        gate=change,
    )


def _check_percent(percent: float, option: str) -> float:
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not math.isfinite(percent):
        raise UsageError(f"{option} {percent!r}: expected a number above 0 and at most 100")
    if not 0 < percent <= 100:
        raise UsageError(f"{option} {percent:g}: a share is above 0 and at most 100 percent")
    return int(percent) if float(percent).is_integer() else percent


def _branch(model: str, alias: str, candidate: int, what: str) -> str:
    return f"mlgate/rollout-{model}-{alias}-v{candidate}-{what}"


def start(
    repo_path: str | os.PathLike[str],
    model: str,
    version: int,
    alias: str,
    *,
    mode: str,
    percent: float | None,
    author: str,
    note: str | None = None,
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
    force: bool = False,
) -> Proposal:
    """Start rolling ``version`` out to ``alias`` (``mode`` canary or shadow) at ``percent`` (default: the
    policy's first step); the alias's full offline gate judges the candidate."""
    if mode not in ROLLOUT_MODES:
        raise UsageError(f"mode {mode!r}: expected one of {', '.join(ROLLOUT_MODES)}")
    b = _base(repo_path, model, alias, base, author)
    if b.alias is None:
        raise UsageError(
            f"{model}@{alias} is not set on {base}: a rollout needs a version holding the alias; promote one first"
        )
    if b.alias.rollout is not None:
        r = b.alias.rollout
        raise UsageError(
            f"{model}@{alias} already rolls out v{r.candidate} ({r.mode} at {pct(r.percent)}) on {base}: "
            f"complete or abort it first (mlgate rollout complete|abort {model} --alias {alias})"
        )
    try:
        Registry(b.tree).version(model, version)
    except NotFoundError as e:
        raise NotFoundError(f"{e} on {base} (a version must be merged before it is rolled out)") from None
    if version == b.alias.version:
        raise UsageError(f"{model}@{alias} already holds version {version} on {base}: roll out another version")
    if percent is None:
        rg = _rollout_gate(b.tree, model, alias)
        if rg is None:
            option = "--canary PERCENT" if mode == "canary" else "--shadow PERCENT"
            raise UsageError(f"the policy on {base} sets no rollout steps for {alias!r}: pass {option}")
        percent = rg.steps[0]
    percent = _check_percent(percent, f"--{mode}")
    rollout = Rollout(version, mode, percent, format_time())
    title = f"Start {mode} of {model} v{version} on {alias} at {pct(percent)}"
    intro = (
        f"Starts a **{mode}** of **v{version}** on **{model}@{alias}** at **{pct(percent)}**; "
        f"v{b.alias.version} keeps the other requests."
    )
    return _propose(
        b,
        model=model,
        alias=alias,
        version=b.alias.version,
        rollout=rollout,
        kind="rollout-start",
        branch=_branch(model, alias, version, f"start-{mode}"),
        title=title,
        intro=intro,
        author=author,
        note=note,
        base=base,
        forge=forge,
        open_pr=open_pr,
        force=force,
    )


def _under_way(b: _Base, model: str, alias: str, base: str) -> tuple[Alias, Rollout]:
    if b.alias is None:
        raise NotFoundError(f"{model}@{alias} is not set on {base}: no rollout to change")
    if b.alias.rollout is None:
        raise UsageError(
            f"no rollout is under way on {model}@{alias} on {base} (it holds v{b.alias.version}): "
            f"start one with mlgate rollout start {model} VERSION --alias {alias} --canary PERCENT"
        )
    return b.alias, b.alias.rollout


def step(
    repo_path: str | os.PathLike[str],
    model: str,
    alias: str,
    *,
    to: float | None = None,
    author: str,
    note: str | None = None,
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
    force: bool = False,
) -> Proposal:
    """Move the rollout on ``alias`` to ``to`` percent (default: the policy's next step); a step up needs the
    online evidence at the current step on the base, a step down is judged by the rollback gate."""
    b = _base(repo_path, model, alias, base, author)
    current, r = _under_way(b, model, alias, base)
    if to is None:
        rg = _rollout_gate(b.tree, model, alias)
        if rg is None:
            raise UsageError(f"the policy on {base} sets no rollout steps for {alias!r}: pass --to PERCENT")
        nxt = next_step(rg.steps, r.percent)
        if nxt is None:
            raise UsageError(
                f"{model}@{alias} is at the last step ({pct(r.percent)}) on {base}: "
                f"complete the rollout next (mlgate rollout complete {model} --alias {alias})"
            )
        to = nxt
    to = _check_percent(to, "--to")
    if to == r.percent:
        raise UsageError(f"the rollout on {model}@{alias} is already at {pct(to)} on {base}")
    moved = Rollout(r.candidate, r.mode, to, r.started_at)
    verb = "Step up" if to > r.percent else "Step down"
    title = f"{verb} {r.mode} of {model} v{r.candidate} on {alias} to {pct(to)}"
    intro = (
        f"Moves the **{r.mode}** of **v{r.candidate}** on **{model}@{alias}** from {pct(r.percent)} to **{pct(to)}**."
    )
    return _propose(
        b,
        model=model,
        alias=alias,
        version=current.version,
        rollout=moved,
        kind="rollout-step",
        branch=_branch(model, alias, r.candidate, f"step-{to:g}"),
        title=title,
        intro=intro,
        author=author,
        note=note,
        base=base,
        forge=forge,
        open_pr=open_pr,
        force=force,
    )


def complete(
    repo_path: str | os.PathLike[str],
    model: str,
    alias: str,
    *,
    author: str,
    note: str | None = None,
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
    force: bool = False,
) -> Proposal:
    """Point ``alias`` at the rollout's candidate and end the rollout (from the last step, with evidence)."""
    b = _base(repo_path, model, alias, base, author)
    current, r = _under_way(b, model, alias, base)
    title = f"Complete {r.mode} of {model} v{r.candidate} on {alias}"
    intro = f"Completes the **{r.mode}** of **v{r.candidate}** on **{model}@{alias}** from {pct(r.percent)}: v{current.version} -> **v{r.candidate}**."
    return _propose(
        b,
        model=model,
        alias=alias,
        version=r.candidate,
        rollout=None,
        kind="rollout-complete",
        branch=_branch(model, alias, r.candidate, "complete"),
        title=title,
        intro=intro,
        author=author,
        note=note,
        base=base,
        forge=forge,
        open_pr=open_pr,
        force=force,
    )


def abort(
    repo_path: str | os.PathLike[str],
    model: str,
    alias: str,
    *,
    author: str,
    note: str | None = None,
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
    force: bool = False,
) -> Proposal:
    """End the rollout on ``alias`` without moving it: the holder serves every request again (rollback gate)."""
    b = _base(repo_path, model, alias, base, author)
    current, r = _under_way(b, model, alias, base)
    title = f"Abort {r.mode} of {model} v{r.candidate} on {alias}"
    intro = f"Aborts the **{r.mode}** of **v{r.candidate}** on **{model}@{alias}** at {pct(r.percent)}: **v{current.version}** serves every request again."
    return _propose(
        b,
        model=model,
        alias=alias,
        version=current.version,
        rollout=None,
        kind="rollout-abort",
        branch=_branch(model, alias, r.candidate, "abort"),
        title=title,
        intro=intro,
        author=author,
        note=note,
        base=base,
        forge=forge,
        open_pr=open_pr,
        force=force,
    )


# --- evidence --------------------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows here (NaN and infinity are refused)")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number (past the range of a double)")
    return value


def read_evidence_json(path: str) -> dict[str, Any]:
    """A monitoring job's evidence document: JSON, an object, no NaN/infinity, no duplicate keys, at most 1 MiB."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_EVIDENCE_JSON + 1)
    except OSError as e:
        raise InputError(f"cannot read the evidence file: {e.strerror}", path=path) from None
    if len(raw) > MAX_EVIDENCE_JSON:
        raise InputError(f"the evidence file is over {MAX_EVIDENCE_JSON:,} bytes", path=path)
    try:
        data = json.loads(
            raw.decode("utf-8"),
            parse_constant=_no_constant,
            parse_float=_finite,
            object_pairs_hook=_no_duplicates,
        )
    except UnicodeDecodeError:
        raise InputError("the evidence file must be UTF-8 JSON", path=path) from None
    except RecursionError:
        raise InputError("the evidence file is nested too deeply", path=path) from None
    except ValueError as e:
        raise InputError(f"the evidence file is not valid JSON: {e}", path=path) from None
    if not isinstance(data, dict):
        raise InputError("the evidence file must be a JSON object with window, requests and metrics", path=path)
    return data


def evidence_document(data: dict[str, Any], b: _Base, model: str, alias: str, path: str) -> dict[str, Any]:
    """The OnlineEvaluation manifest: the measurements of ``data``, the rest filled from the alias on the base."""
    current, r = b.alias, b.alias.rollout if b.alias is not None else None
    assert current is not None and r is not None
    filled: dict[str, Any] = {
        "model": model,
        "alias": alias,
        "candidate": r.candidate,
        "holder": current.version,
        "mode": r.mode,
        "percent": r.percent,
    }
    extra = sorted(k for k in data if k not in MEASURED and k not in FILLED)
    if extra:
        raise UsageError(
            f"{path}: unexpected key{'s' if len(extra) > 1 else ''} {', '.join(repr(k) for k in extra)}: an evidence "
            f"document has {', '.join(MEASURED)} (and mlgate fills {', '.join(FILLED)} from the alias)"
        )
    for key in FILLED:
        if key in data and data[key] != filled[key]:
            raise UsageError(
                f"{path}: {key} is {data[key]!r} but the rollout on {model}@{alias} has {filled[key]!r}: "
                "evidence is for the rollout under way, at its current step"
            )
    doc: dict[str, Any] = {"apiVersion": "mlgate/v1", "kind": "OnlineEvaluation", **filled}
    doc.update({k: data[k] for k in MEASURED if k in data})
    problems = []
    for e in schemas.errors("OnlineEvaluation", doc):
        where = field_path(e.path)
        problems.append(f"{where}: {e.message}" if where else e.message)
    if problems:
        raise UsageError(f"{path}: the evidence would be invalid: " + "; ".join(problems))
    return doc


def evidence(
    repo_path: str | os.PathLike[str],
    model: str,
    alias: str,
    *,
    source: str,
    author: str,
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
) -> Proposal:
    """Propose a monitoring job's measurements (``source``, JSON) as the online evidence of the rollout on
    ``alias`` at its current step: online/<alias>/<candidate>.yaml, judged like any evidence pull request."""
    b = _base(repo_path, model, alias, base, author)
    current, r = _under_way(b, model, alias, base)
    doc = evidence_document(read_evidence_json(source), b, model, alias, source)
    text = dump(doc)
    try:
        load(text.encode(), source)  # the registry's reader must read back exactly what is written
    except YamlError as e:
        raise UsageError(f"{source}: the evidence cannot be written as a manifest: {e.message}") from None
    path = layout.online_path(model, alias, r.candidate)
    title = f"Online evidence for {model} v{r.candidate} on {alias} at {pct(r.percent)}"
    intro = (
        f"Live evidence of the **{r.mode}** of **v{r.candidate}** on **{model}@{alias}** at **{pct(r.percent)}** "
        f"(holder v{current.version}), from {doc['window']['start']} to {doc['window']['end']}."
    )

    def described(commit: str) -> tuple[str, AliasChange | None]:
        # the evidence judged as the pull request's check will judge it, on the validated commit
        from mlgate.check import rollout as gates

        policy, _ = load_policy(b.tree)
        change = gates.judge_evidence(
            Judge(GitTree(b.git, commit), b.tree, policy, no_reviews_reason="reviewers approve this pull request"),
            model,
            alias,
            r.candidate,
            deleted=False,
        )
        assert change is not None and change.kind == ROLLOUT_EVIDENCE  # the document was validated before
        return _body(change, intro), change

    return _commit_and_publish(
        b.git,
        kind="rollout-evidence",
        base=base,
        base_sha=b.sha,
        files={path: text.encode()},
        message=f"{title}\n",
        branch=_branch(model, alias, r.candidate, f"evidence-{r.percent:g}"),
        title=title,
        body=described,
        forge=forge if open_pr else None,
        author=author,
        labels=[LABEL, ROLLOUT_EVIDENCE],
        version=r.candidate,
    )


# --- status ----------------------------------------------------------------------------------------------


def status(repo_path: str | os.PathLike[str], model: str, alias: str, *, base: str = "main") -> dict[str, Any]:
    """Where the rollout on ``alias`` stands on ``base``: the holder, the rollout, the policy's steps, the next
    step and what it needs, and whether the online evidence is there and passes."""
    _check_names(model, alias)
    git = GitRepo(repo_path)
    sha = _base_sha(git, base)
    tree = GitTree(git, sha)
    reg = Registry(tree)
    check_model(reg, model)
    current = reg.aliases(model).get(alias)
    policy, found = load_policy(tree)
    if found:
        raise InputError(found[0].message, path=layout.POLICY)
    judge = Judge(tree, tree, policy, no_reviews_reason="no pull request")
    gate, key = judge.gate_of(model, alias)
    rg = gate.rollout if gate is not None else None
    out: dict[str, Any] = {
        "model": model,
        "alias": alias,
        "base": base,
        "commit": sha,
        "version": current.version if current else None,
        "rollout": current.rollout.to_manifest() if current and current.rollout else None,
        "policy": None
        if rg is None
        else {
            "key": key,
            "steps": list(rg.steps),
            "min_requests": rg.online.min_requests,
            "min_hours": rg.online.min_hours,
            "metrics": {
                n: {"min": b.min, "max": b.max, "no_regression": b.no_regression} for n, b in rg.online.metrics.items()
            },
        },
    }
    if current is None or current.rollout is None:
        out["next"] = _next_without_rollout(model, alias, current, rg)
        out["evidence"] = None
        return out
    r = current.rollout
    nxt = next_step(rg.steps, r.percent) if rg is not None else None
    command = (
        f"mlgate rollout step {model} --alias {alias}"
        if nxt is not None
        else f"mlgate rollout complete {model} --alias {alias}"
    )
    out["next"] = {
        "action": ("step" if nxt is not None else "complete") if rg is not None else "step or complete",
        "percent": nxt,
        "command": command
        if rg is not None
        else (
            f"mlgate rollout step {model} --alias {alias} --to PERCENT, "
            f"or mlgate rollout complete {model} --alias {alias}"
        ),
        "needs": f"online evidence at {pct(r.percent)} that passes the online gate"
        if rg is not None
        else "approvals only (the policy sets no rollout gate)",
    }
    ev = evidence_of(judge, model, alias, r.candidate)
    path = layout.online_path(model, alias, r.candidate)
    info: dict[str, Any] = {"path": path, "present": ev is not None}
    if ev is not None:
        wrong = mismatch(ev, current.version, r.mode, r.percent)
        info.update(
            percent=ev.percent,
            holder=ev.holder,
            window={"start": ev.window_start, "end": ev.window_end},
            requests={"candidate": ev.requests_candidate, "holder": ev.requests_holder},
            current=wrong is None,
        )
    if rg is not None:
        rc = RolloutChange("step", r.candidate, r.mode, r.percent, nxt)
        checks = online_checks(judge, model, alias, current.version, rc, rg.online)
        info["checks"] = [c.to_dict() for c in checks]
        info["passes"] = all(c.status == PASS for c in checks)
    else:
        info["passes"] = None
    out["evidence"] = info
    return out


def _next_without_rollout(model: str, alias: str, current: Alias | None, rg: RolloutGate | None) -> dict[str, Any]:
    if current is None:
        return {"action": "promote", "command": f"mlgate promote {model} VERSION --alias {alias}", "needs": "a holder"}
    if rg is None:
        return {
            "action": "promote or start",
            "command": f"mlgate promote {model} VERSION --alias {alias}",
            "needs": "the alias's gate (no rollout required)",
        }
    return {
        "action": "start",
        "percent": rg.steps[0],
        "command": f"mlgate rollout start {model} VERSION --alias {alias} --canary {rg.steps[0]:g}",
        "needs": "the alias's full offline gate on the candidate",
    }
