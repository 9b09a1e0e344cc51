"""Rollout gates: every alias change that starts, steps, completes or aborts a progressive rollout, and every
pull request adding online evidence, judged with the base branch's policy (its ``rollout:`` gate per alias).

What each change needs (``core.rollout.classify`` says which change it is):

- **start**: the alias's full offline gate applied to the candidate (evidence, metrics, no regression against
  the holder, card, approvals), the rollout gate's approvals, and a canary at the policy's first step. A shadow
  answers no request, so it may mirror any share from the start; its step ups still follow the policy's steps.
- **step up**: only to the next policy step, with online evidence at the current step (on the base) that passes
  the online gate; the rollout gate's approvals.
- **step down** and **abort**: the rollback gate (less traffic to the candidate is always a way back).
- **complete**: only at (or past) the last step, with passing online evidence there.
- a **promotion** without a rollout on an alias whose gate requires one is refused (a return to a former
  holder is a rollback and still uses the rollback gate).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from mlgate.check.gates import (
    MG204,
    MG406,
    ROLLOUT_ABORT,
    ROLLOUT_COMPLETE,
    ROLLOUT_EVIDENCE,
    ROLLOUT_START,
    ROLLOUT_STEP,
    ROLLOUT_STEP_DOWN,
    AliasChange,
    Check,
    Judge,
    compare,
)
from mlgate.core import layout
from mlgate.core.events import PROMOTION, ROLLBACK
from mlgate.core.model import OnlineEvaluation, Rollout
from mlgate.core.policy import Gate, OnlineGate, RolloutGate
from mlgate.core.rollout import RolloutChange, classify, next_step
from mlgate.core.rules import FAIL, PASS, Family, define
from mlgate.core.times import parse_iso
from mlgate.infra.yamlio import exact

# --- the rules checked here (mlgate rules RULE_ID says where each lives) ---

MG407 = define(
    "MG407",
    "rollout-required",
    Family.GATE,
    "A new version is put on an alias whose policy gate requires a progressive rollout, without one: start a rollout (mlgate rollout start) instead.",
)
MG408 = define(
    "MG408",
    "rollout-step",
    Family.GATE,
    "A rollout step does not follow the policy's steps: a canary starting elsewhere than the first step, a step up out of order or skipping the next step, or a completion before the last step.",
)
MG409 = define(
    "MG409",
    "rollout-online",
    Family.GATE,
    "The online evidence (online/<alias>/<candidate>.yaml on the base) a step up or completion needs is missing, is for another holder, step or mode, or fails the policy's online gate: too few requests, too short a window, a live metric out of bounds, or a live regression against the holder.",
)
MG410 = define(
    "MG410",
    "rollout-malformed",
    Family.GATE,
    "An alias change is not one well-formed rollout change: the candidate or mode changes mid-rollout, 'version' moves during a start or step, a rollout ends on a third version, or one starts with no version holding the alias.",
)

_KINDS = {"start": ROLLOUT_START, "step": ROLLOUT_STEP, "complete": ROLLOUT_COMPLETE, "abort": ROLLOUT_ABORT}


def pct(x: float | None) -> str:
    return "(none)" if x is None else f"{x:g}%"


def _same(a: float, b: float) -> bool:
    return exact(a) == exact(b)


def judge_alias(
    judge: Judge,
    model: str,
    alias: str,
    from_v: int | None,
    to_v: int | None,
    rollout_before: Rollout | None = None,
    rollout_after: Rollout | None = None,
) -> AliasChange | None:
    """The gate verdict on one alias change, rollout or not (None when nothing the gates judge changed)."""
    if to_v is None:  # the alias file removed, rollout and all: a removal
        return judge.alias_change(model, alias, from_v, to_v)
    rc = classify(from_v, rollout_before, to_v, rollout_after)
    if rc is None:
        if from_v == to_v:
            return None  # a note, or a rollout block rewritten with the same share
        return _require_rollout(judge, judge.alias_change(model, alias, from_v, to_v))
    if rc.kind == "start" and rc.problem and from_v is not None and to_v is not None and rc.candidate == from_v:
        # the revert of a completion: back to the former holder, the candidate at its last share again
        change = judge.alias_change(model, alias, from_v, to_v)
        if change.kind == ROLLBACK:
            return replace(change, rollout=_info(judge, model, alias, rc, to_v, "returns to"))
    gate, key = judge.gate_of(model, alias)
    holder = from_v if from_v is not None else to_v
    kind = ROLLOUT_STEP_DOWN if rc.is_step_down else _KINDS[rc.kind]
    info = _info(judge, model, alias, rc, holder)
    path = layout.alias_path(model, alias)

    def done(*checks: Check) -> AliasChange:
        return AliasChange(kind, path, model, alias, from_v, to_v, key, tuple(checks), rollout=info)

    if rc.problem:
        return done(Check("rollout", FAIL, rc.problem, MG410))
    if gate is None:
        reason = (
            "no registry/policy.yaml on the base" if judge.policy is None else f"the policy has no gate for {alias!r}"
        )
        return done(Check("policy", PASS, f"{reason}: rollout changes are not gated", MG406))
    assert holder is not None  # a well-formed rollout change has a holder
    if rc.kind == "start":
        return done(*_start(judge, model, alias, holder, rc, gate))
    if rc.kind == "abort":
        what = f"aborts the {rc.mode} of v{rc.candidate} at {pct(rc.before)}: v{holder} serves every request again"
        return done(Check("rollout", PASS, what, MG408), _approvals(judge, gate, "rollback"))
    if rc.is_step_down:
        what = f"steps down from {pct(rc.before)} to {pct(rc.after)}: judged by the rollback gate"
        return done(Check("rollout", PASS, what, MG408), _approvals(judge, gate, "rollback"))
    if rc.kind == "step":
        return done(*_step_up(judge, model, alias, holder, rc, gate))
    return done(*_complete(judge, model, alias, holder, rc, gate))


def _require_rollout(judge: Judge, change: AliasChange) -> AliasChange:
    """A promotion to a new version where the policy requires a rollout fails MG407, naming the first step."""
    if change.kind != PROMOTION or change.from_version is None or change.to_version is None:
        return change
    assert change.model is not None and change.alias is not None  # an alias change
    gate, _ = judge.gate_of(change.model, change.alias)
    if gate is None or gate.rollout is None:
        return change
    first = gate.rollout.steps[0]
    why = (
        f"{change.alias!r} requires a progressive rollout (steps {_steps(gate.rollout)}) before a new version holds it: "
        f"start one at {pct(first)} with `mlgate rollout start {change.model} {change.to_version} --alias {change.alias} "
        f"--canary {first:g}`"
    )
    return replace(change, checks=(*change.checks, Check("rollout required", FAIL, why, MG407)))


def _steps(rg: RolloutGate) -> str:
    return ", ".join(f"{s:g}" for s in rg.steps)


def _approvals(judge: Judge, gate: Gate, which: str) -> Check:
    if which == "rollback":
        return judge._approvals(gate.for_rollback().approvals)
    rule = gate.rollout.approvals if gate.rollout is not None and gate.rollout.approvals is not None else None
    return judge._approvals(rule if rule is not None else gate.approvals)


def _start(judge: Judge, model: str, alias: str, holder: int, rc: RolloutChange, gate: Gate) -> list[Check]:
    cand = rc.candidate
    if judge.load(judge.head, layout.version_path(model, cand), "ModelVersion") is None:
        return [Check("target", FAIL, f"candidate version {cand} does not exist or its version.yaml is invalid", MG204)]
    checks = [judge._deprecated(model, cand)]
    checks += judge._evidence(model, cand, gate)
    checks += judge._metrics(model, cand, holder, gate)
    if gate.card_sections:
        checks.append(judge._card(model, cand, gate.card_sections))
    checks.append(judge._approvals(gate.approvals))
    rg = gate.rollout
    if rg is None:
        checks.append(
            Check("rollout step", PASS, f"the policy sets no steps for {alias!r}: any share may start", MG408)
        )
        return checks
    assert rc.after is not None  # a start has a share
    first = rg.steps[0]
    if rc.mode == "shadow":
        checks.append(
            Check(
                "rollout step",
                PASS,
                f"a shadow answers no request: it may mirror {pct(rc.after)} from the start",
                MG408,
            )
        )
    elif not _same(rc.after, first):
        why = f"a canary starts at the policy's first step, {pct(first)}, not {pct(rc.after)} (steps {_steps(rg)})"
        checks.append(Check("rollout step", FAIL, why, MG408, {"allowed": first, "steps": list(rg.steps)}))
    else:
        checks.append(Check("rollout step", PASS, f"starts at the first step, {pct(first)}", MG408))
    if rg.approvals is not None:
        checks.append(replace(judge._approvals(rg.approvals), gate="rollout approvals"))
    return checks


def _step_up(judge: Judge, model: str, alias: str, holder: int, rc: RolloutChange, gate: Gate) -> list[Check]:
    rg = gate.rollout
    if rg is None:
        what = f"the policy sets no steps for {alias!r}: any step up is allowed"
        return [Check("rollout step", PASS, what, MG408), _approvals(judge, gate, "rollout")]
    assert rc.before is not None and rc.after is not None  # a step has both shares
    allowed = next_step(rg.steps, rc.before)
    details = {"allowed": allowed, "steps": list(rg.steps)}
    if allowed is None:
        why = f"{pct(rc.before)} is the last step (steps {_steps(rg)}): complete the rollout next (mlgate rollout complete)"
        step = Check("rollout step", FAIL, why, MG408, details)
    elif not _same(rc.after, allowed):
        skips = [s for s in rg.steps if rc.before < s < rc.after]
        how = f"skips {', '.join(pct(s) for s in skips)}" if skips else "is not the next step"
        why = (
            f"{pct(rc.after)} {how}: from {pct(rc.before)} the next allowed step is {pct(allowed)} (steps {_steps(rg)})"
        )
        step = Check("rollout step", FAIL, why, MG408, details)
    else:
        step = Check("rollout step", PASS, f"{pct(rc.before)} -> {pct(rc.after)}, the next step", MG408, details)
    return [step, *online_checks(judge, model, alias, holder, rc, rg.online), _approvals(judge, gate, "rollout")]


def _complete(judge: Judge, model: str, alias: str, holder: int, rc: RolloutChange, gate: Gate) -> list[Check]:
    rg = gate.rollout
    if rg is None:
        # no rollout required: the completion is the promotion, judged by the alias's full gate
        change = judge.alias_change(model, alias, holder, rc.candidate)
        return list(change.checks)
    assert rc.before is not None  # a completion ends a rollout at a share
    checks = [judge._deprecated(model, rc.candidate)]
    nxt = next_step(rg.steps, rc.before)
    if nxt is not None:
        why = (
            f"a rollout completes from its last step, {pct(rg.steps[-1])}; at {pct(rc.before)} the next step is "
            f"{pct(nxt)} (steps {_steps(rg)})"
        )
        checks.append(Check("rollout step", FAIL, why, MG408, {"allowed": nxt, "steps": list(rg.steps)}))
    else:
        checks.append(Check("rollout step", PASS, f"completes from the last step, {pct(rc.before)}", MG408))
    checks += online_checks(judge, model, alias, holder, rc, rg.online)
    checks.append(_approvals(judge, gate, "rollout"))
    return checks


def evidence_of(judge: Judge, model: str, alias: str, candidate: int) -> OnlineEvaluation | None:
    """The online evidence for rolling ``candidate`` out to ``alias``, as on the base."""
    doc = judge.load(judge.base, layout.online_path(model, alias, candidate), "OnlineEvaluation")
    return OnlineEvaluation.from_manifest(doc.data) if doc is not None else None


def mismatch(ev: OnlineEvaluation, holder: int, mode: str, percent: float) -> str | None:
    """Why ``ev`` is not evidence for the rollout at ``percent`` (None when it is)."""
    wrong = []
    if ev.holder != holder:
        wrong.append(f"holder v{ev.holder}, not v{holder}")
    if ev.mode != mode:
        wrong.append(f"mode {ev.mode}, not {mode}")
    if not _same(ev.percent, percent):
        wrong.append(f"step {pct(ev.percent)}, not {pct(percent)}")
    if not wrong:
        return None
    return f"the evidence is for {'; '.join(wrong)}: collect it at the current step"


def online_checks(
    judge: Judge, model: str, alias: str, holder: int, rc: RolloutChange, online: OnlineGate
) -> list[Check]:
    """The online gate on the evidence at the rollout's current step (``rc.before``), read from the base."""
    assert rc.before is not None
    path = layout.online_path(model, alias, rc.candidate)
    ev = evidence_of(judge, model, alias, rc.candidate)
    if ev is None:
        why = (
            f"no online evidence at {path} on the base: measure the {rc.mode} at {pct(rc.before)} and propose it "
            f"with `mlgate rollout evidence {model} --alias {alias} --from FILE.json`, merged before this step"
        )
        return [Check("online evidence", FAIL, why, MG409, {"path": path, "present": False})]
    wrong = mismatch(ev, holder, rc.mode, rc.before)
    if wrong:
        return [Check("online evidence", FAIL, f"{path}: {wrong}", MG409, {"path": path, "present": True})]
    where = f"{rc.mode} at {pct(ev.percent)} vs v{holder}, {ev.window_start} to {ev.window_end}"
    checks = [Check("online evidence", PASS, where, MG409, {"path": path, "present": True})]
    n = ev.requests_candidate
    ok = n >= online.min_requests
    checks.append(
        Check(
            "online requests",
            PASS if ok else FAIL,
            f"the candidate saw {n:,} requests (required {online.min_requests:,})",
            MG409,
            {"candidate": n, "required": online.min_requests},
        )
    )
    checks.append(_window(ev, online.min_hours))
    for name, bound in online.metrics.items():
        value = ev.metrics_candidate.get(name)
        if value is None:
            checks.append(Check(f"live {name}", FAIL, f"the evidence has no live {name!r} for the candidate", MG409))
            continue
        if bound.min is not None or bound.max is not None:
            checks.append(replace(judge._bounds(name, value, bound), gate=f"live {name}", rule=MG409))
        if bound.no_regression is not None:
            gate = f"live no regression {name}"
            held = ev.metrics_holder.get(name)
            if held is None:
                why = f"cannot compare {name}: the evidence has no live {name!r} for the holder (v{holder})"
                checks.append(Check(gate, FAIL, why, MG409))
            else:
                checks.append(
                    compare(
                        gate, name, value, held, bound, f"live v{rc.candidate}", f"v{holder}", MG409, {"live": True}
                    )
                )
    return checks


def window_hours(ev: OnlineEvaluation) -> Decimal | None:
    """The evidence window's length in hours, exactly (None for an unreadable time)."""
    start, end = parse_iso(ev.window_start), parse_iso(ev.window_end)
    if start is None or end is None:
        return None
    d = end - start
    seconds = Decimal(d.days * 86400 + d.seconds) + Decimal(d.microseconds) / Decimal(1_000_000)
    return seconds / Decimal(3600)


def _window(ev: OnlineEvaluation, min_hours: float) -> Check:
    hours = window_hours(ev)
    if hours is None:
        return Check("online window", FAIL, "the evidence window has an unreadable time", MG409)
    need = exact(min_hours)
    shown = f"{hours.quantize(Decimal('0.01')).normalize():f}"
    ok = hours > 0 and hours >= need
    why = f"window {ev.window_start} to {ev.window_end}: {shown} hours (required {min_hours:g})"
    if hours <= 0:
        why = f"the window ends ({ev.window_end}) before it starts ({ev.window_start})"
    return Check("online window", PASS if ok else FAIL, why, MG409, {"hours": float(hours), "required": min_hours})


def judge_evidence(judge: Judge, model: str, alias: str, candidate: int, deleted: bool) -> AliasChange | None:
    """A pull request adding, replacing or removing online evidence: it must be for the rollout under way on
    the base (candidate, holder, mode and step), and needs the rollout gate's approvals."""
    path = layout.online_path(model, alias, candidate)
    gate, key = judge.gate_of(model, alias)
    checks: list[Check] = []
    holder = None
    if not deleted:
        doc = judge.load(judge.head, path, "OnlineEvaluation")
        if doc is None:
            return None  # unreadable: reported by the checks of the file
        ev = OnlineEvaluation.from_manifest(doc.data)
        holder = ev.holder
        adoc = judge.load(judge.base, layout.alias_path(model, alias), "Alias")
        current = _rollout_of(adoc.data) if adoc is not None else None
        if current is None or current[1].candidate != candidate:
            why = f"no rollout of v{candidate} is under way on {model}@{alias} on the base: evidence is for a rollout in progress"
            checks.append(Check("online evidence", FAIL, why, MG409))
        else:
            held, ro = current
            wrong = mismatch(ev, held, ro.mode, ro.percent)
            if wrong:
                checks.append(Check("online evidence", FAIL, wrong, MG409))
            else:
                what = f"for the {ro.mode} of v{candidate} at {pct(ro.percent)} vs v{held}"
                checks.append(Check("online evidence", PASS, what, MG409))
    if gate is None:
        checks.append(Check("approvals", PASS, f"the policy has no gate for {alias!r}: no approvals required", MG406))
    else:
        checks.append(_approvals(judge, gate, "rollout"))
    summary = f"{'removes the ' if deleted else ''}online evidence for v{candidate}"
    info = {"summary": summary, "candidate": candidate, "evidence": {"path": path, "present": not deleted}}
    return AliasChange(ROLLOUT_EVIDENCE, path, model, alias, holder, candidate, key, tuple(checks), rollout=info)


def _rollout_of(data: Any) -> tuple[int, Rollout] | None:
    """The holder and the rollout of an alias manifest, or None when no rollout is under way."""
    rollout = data.get("rollout")
    return (data["version"], Rollout.from_manifest(rollout)) if rollout else None


def _info(
    judge: Judge, model: str, alias: str, rc: RolloutChange, holder: int | None, verb: str | None = None
) -> dict[str, Any]:
    """What the report shows of a rollout change: where it stands, what comes next, what evidence is there."""
    gate, _ = judge.gate_of(model, alias)
    rg = gate.rollout if gate is not None else None
    ev = evidence_of(judge, model, alias, rc.candidate)
    at = rc.after if rc.after is not None else rc.before
    nxt = next_step(rg.steps, at) if rg is not None and rc.kind not in ("complete", "abort") else None
    if verb:
        summary = f"{verb} v{holder}, the {rc.mode} of v{rc.candidate} at {pct(rc.before)}"
    elif rc.problem:
        summary = (
            f"changes the {rc.mode} of v{rc.candidate} at {pct(rc.before)} in a way a rollout cannot: {rc.problem}"
        )
    elif rc.kind == "start":
        summary = f"starts a {rc.mode} of v{rc.candidate} at {pct(rc.after)} (holder v{holder})"
    elif rc.kind == "step":
        summary = f"{rc.mode} of v{rc.candidate}: {pct(rc.before)} -> {pct(rc.after)} (holder v{holder})"
    elif rc.kind == "complete":
        summary = f"completes the {rc.mode} of v{rc.candidate} from {pct(rc.before)}: v{holder} -> v{rc.candidate}"
    else:
        summary = f"aborts the {rc.mode} of v{rc.candidate} at {pct(rc.before)}: v{holder} keeps the alias"
    evidence: dict[str, Any] = {"path": layout.online_path(model, alias, rc.candidate), "present": ev is not None}
    if ev is not None:
        evidence.update(percent=ev.percent, holder=ev.holder, mode=ev.mode, requests=ev.requests_candidate)
    return {
        "summary": summary,
        "change": rc.kind,
        "candidate": rc.candidate,
        "mode": rc.mode,
        "before": rc.before,
        "after": rc.after,
        "steps": list(rg.steps) if rg is not None else None,
        "next": nxt,
        "evidence": evidence,
    }
