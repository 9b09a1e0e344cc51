"""``mlgate doctor``: is the repository's branch set up on GitHub the way the README asks?

mlgate's check only protects ``main`` if GitHub enforces it. This module reads what GitHub enforces on a
branch, from both of its mechanisms, and judges each item of the README's set-up:

- the rules of every **active ruleset** that applies to the branch (``GET /repos/{o}/{r}/rules/branches/{b}``,
  readable with read access), and each such ruleset's bypass list (``GET /repos/{o}/{r}/rulesets/{id}``);
- classic **branch protection** (``GET /repos/{o}/{r}/branches/{b}/protection``), which GitHub shows only to
  repository admins: for anyone else it answers 403 or 404, and the report says so instead of guessing.

GitHub enforces the union of both, so an item is set when either mechanism sets it. Pure apart from the
``api`` object (anything with ``api_json(path)``, e.g. :class:`mlgate.forge.github.GitHubForge`); never prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol
from urllib.parse import quote

from mlgate.forge import ForgeError

OK, MISSING, UNKNOWN = "ok", "missing", "unknown"
CHECK = "validate"  # the job name in validate.yml: the status check branch protection requires
WORKFLOW = ".github/workflows/validate.yml"
HIDDEN = (
    "GitHub shows branch protection only to repository admins, and this token is not one "
    "(answered {status}): its settings are unknown; run doctor with an admin's token"
)


class Api(Protocol):
    repo_name: str

    def api_json(self, path: str) -> Any:
        """GET a path of GitHub's REST API; its JSON."""


@dataclass(frozen=True)
class Item:
    """One line of the checklist."""

    key: str
    title: str
    status: str  # ok | missing | unknown
    detail: str  # what was found, and where
    fix: str  # one line: how to set it (shown when not ok)

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "title": self.title, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class Diagnosis:
    repository: str
    branch: str
    items: tuple[Item, ...]
    sources: tuple[str, ...]  # what protects the branch: "branch protection", "ruleset 'x' (...)"
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(i.status == OK for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "branch": self.branch,
            "ok": self.ok,
            "sources": list(self.sources),
            "items": [i.to_dict() for i in self.items],
            "notes": list(self.notes),
        }


# --- what GitHub says ---------------------------------------------------------------------------------------


@dataclass(eq=False)  # compared and hashed by identity: one object per mechanism
class _Source:
    """One mechanism that protects the branch: classic branch protection, or one ruleset."""

    label: str
    rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # rule type -> parameters (rulesets)
    protection: dict[str, Any] | None = None  # classic protection's JSON
    bypass: list[str] | None = None  # who may bypass; None: unknown

    def params(self, rule: str) -> list[dict[str, Any]]:
        return self.rules.get(rule, [])


def _obj(value: Any) -> dict[str, Any]:
    """``value`` if GitHub sent an object there, else an empty one (an odd answer never crashes doctor)."""
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _status(e: ForgeError) -> int | None:
    return getattr(e, "status", None)


def _ruleset_label(rid: int, rule: dict[str, Any], detail: dict[str, Any] | None) -> str:
    name = detail.get("name") if isinstance(detail, dict) else None
    kind = str(rule.get("ruleset_source_type") or "").lower() or "unknown source"
    where = f"{kind} {rule.get('ruleset_source') or '?'}"
    return f"ruleset {name!r} ({where}, id {rid})" if name else f"ruleset {rid} ({where})"


def _actor(actor: dict[str, Any]) -> str:
    kind = actor.get("actor_type", "?")
    who = "" if actor.get("actor_id") is None else f" {actor['actor_id']}"
    return f"{kind}{who} ({actor.get('bypass_mode', 'always')})"


def _rulesets(api: Api, repo: str, branch: str, notes: list[str]) -> list[_Source]:
    rules = api.api_json(f"/repos/{repo}/rules/branches/{quote(branch, safe='')}?per_page=100")
    if not isinstance(rules, list):
        raise ForgeError(f"GitHub's answer for the rules of {branch} is not a list of rules")
    by_id: dict[int, list[dict[str, Any]]] = {}
    for rule in rules:
        if isinstance(rule, dict) and isinstance(rule.get("type"), str):
            by_id.setdefault(_int(rule.get("ruleset_id")), []).append(rule)
    sources = []
    for rid, found in sorted(by_id.items()):
        detail = None
        try:
            detail = api.api_json(f"/repos/{repo}/rulesets/{rid}?includes_parents=true")
        except ForgeError as e:
            if _status(e) not in (403, 404):
                raise
            notes.append(
                f"ruleset {rid}: GitHub hides its details from this token (answered {_status(e)}): "
                "who may bypass it is unknown"
            )
        source = _Source(_ruleset_label(rid, found[0], detail))
        for rule in found:
            source.rules.setdefault(rule["type"], []).append(_obj(rule.get("parameters")))
        if isinstance(detail, dict) and isinstance(detail.get("bypass_actors"), list):
            source.bypass = [_actor(a) for a in detail["bypass_actors"] if isinstance(a, dict)]
        sources.append(source)
    return sources


def _classic(api: Api, repo: str, branch: str, notes: list[str]) -> tuple[_Source | None, bool]:
    """Classic branch protection, and whether GitHub hid it."""
    try:
        data = api.api_json(f"/repos/{repo}/branches/{quote(branch, safe='')}/protection")
    except ForgeError as e:
        status, message = _status(e), str(getattr(e, "github_message", "") or "")
        if status == 404 and message.lower() == "branch not protected":
            return None, False
        if status == 404 and message.lower() == "branch not found":
            raise ForgeError(
                f"GitHub has no branch {branch!r} in {repo}: pass the registry's branch with --branch"
            ) from None
        if status in (403, 404):
            notes.append(HIDDEN.format(status=status))
            return None, True
        raise
    if not isinstance(data, dict):
        raise ForgeError(f"GitHub's answer for the protection of {branch} is not an object")
    source = _Source("branch protection", protection=data)
    enforced = _obj(data.get("enforce_admins")).get("enabled") is True
    allowances = _obj(_obj(data.get("required_pull_request_reviews")).get("bypass_pull_request_allowances"))
    who = [
        f"{kind[:-1]} {x.get('login') or x.get('slug') or x.get('name') or '?'}"
        for kind in ("users", "teams", "apps")
        for x in _list(allowances.get(kind))
        if isinstance(x, dict)
    ]
    source.bypass = ([] if enforced else ["repository admins ('Do not allow bypassing' is off)"]) + [
        f"{w} (pull request requirements)" for w in who
    ]
    return source, False


# --- judging each item -------------------------------------------------------------------------------------------


def _reviews(source: _Source) -> Iterable[dict[str, Any]]:
    """Pull request review settings, in one vocabulary (classic names mapped to the rulesets' names)."""
    if source.protection is not None:
        r = source.protection.get("required_pull_request_reviews")
        if isinstance(r, dict):
            yield {
                "required_approving_review_count": _int(r.get("required_approving_review_count")),
                "require_code_owner_review": bool(r.get("require_code_owner_reviews")),
                "dismiss_stale_reviews_on_push": bool(r.get("dismiss_stale_reviews")),
                "require_last_push_approval": bool(r.get("require_last_push_approval")),
            }
    yield from source.params("pull_request")


def _status_checks(source: _Source) -> Iterable[tuple[set[str], bool]]:
    """(required check names, strict) per status-check requirement."""
    # only a check tied to the app that reports it counts: a name alone ("any source") is satisfied by a
    # commit status anyone with write access can post
    if source.protection is not None:
        r = source.protection.get("required_status_checks")
        if isinstance(r, dict):
            names = {
                name
                for c in _list(r.get("checks"))
                if isinstance(c, dict)
                and isinstance(c.get("app_id"), int)
                and isinstance(name := c.get("context"), str)
            }
            yield names, bool(r.get("strict"))
    for p in source.params("required_status_checks"):
        names = {
            name
            for c in _list(p.get("required_status_checks"))
            if isinstance(c, dict)
            and isinstance(c.get("integration_id"), int)
            and isinstance(name := c.get("context"), str)
        }
        yield names, bool(p.get("strict_required_status_checks_policy"))


def _force_blocked(source: _Source) -> bool:
    if source.protection is not None:
        return _obj(source.protection.get("allow_force_pushes")).get("enabled") is False
    return "non_fast_forward" in source.rules


def _path(path: object) -> str:
    text = str(path or "")
    while text.startswith(("./", "/")):
        text = text[1:] if text.startswith("/") else text[2:]
    return text


#: default-branch names a required workflow may come from besides the checked branch (this check cannot see the
#: repository's default branch without another request; other branches need a commit pin or the checked branch)
_USUAL_DEFAULTS = ("refs/heads/main", "refs/heads/master")


def _workflows(source: _Source, path: str, branch: str) -> Iterable[str]:
    """The workflow rules that pin ``path`` to a commit, or to the protected branch itself (or the default
    branch); a ref anyone can push to (another branch, a pull request's head) pins nothing."""
    for p in source.params("workflows"):
        for w in _list(p.get("workflows")):
            ref = w.get("ref") if isinstance(w, dict) else None
            pinned = bool(w.get("sha")) if isinstance(w, dict) else False
            if (
                isinstance(w, dict)
                and _path(w.get("path")) == _path(path)
                and (pinned or ref in (None, f"refs/heads/{branch}", *_USUAL_DEFAULTS))
            ):
                yield f"at {str(w['sha'])[:12]}" if w.get("sha") else f"from {w.get('ref') or 'the default branch'}"


@dataclass(frozen=True)
class _Spec:
    key: str
    title: str
    fix: str
    find: Callable[[_Source], list[str]]  # what this source sets for the item (empty: nothing)


def _specs(check: str, workflow: str, branch: str = "main") -> list[_Spec]:
    def review(flag: str, said: str) -> Callable[[_Source], list[str]]:
        return lambda s: [said for r in _reviews(s) if r.get(flag)]

    return [
        _Spec(
            "pull-request",
            "pull request required",
            "in a ruleset for the branch (Settings > Rules > Rulesets) or its branch protection, enable "
            "'Require a pull request before merging'",
            lambda s: ["required" for _ in _reviews(s)],
        ),
        _Spec(
            "approvals",
            "at least 1 approval",
            "set 'Required approvals' to 1 or more in the pull request rule",
            lambda s: [
                f"{_int(r.get('required_approving_review_count'))} required"
                for r in _reviews(s)
                if _int(r.get("required_approving_review_count")) >= 1
            ],
        ),
        _Spec(
            "code-owners",
            "review from code owners",
            "enable 'Require review from Code Owners' in the pull request rule",
            review("require_code_owner_review", "required"),
        ),
        _Spec(
            "stale-approvals",
            "stale approvals dismissed on push",
            "enable 'Dismiss stale pull request approvals when new commits are pushed'",
            review("dismiss_stale_reviews_on_push", "dismissed"),
        ),
        _Spec(
            "last-push",
            "approval of the most recent push",
            "enable 'Require approval of the most recent reviewable push'",
            review("require_last_push_approval", "required"),
        ),
        _Spec(
            "status-check",
            f"required status check '{check}'",
            f"enable 'Require status checks to pass' and add '{check}' (GitHub lists it once the workflow has run)",
            lambda s: ["required" for names, _ in _status_checks(s) if check in names],
        ),
        _Spec(
            "up-to-date",
            "up-to-date branches or a merge queue",
            "enable 'Require branches to be up to date before merging', or 'Require merge queue'",
            lambda s: (
                ["up to date required" for names, strict in _status_checks(s) if strict and check in names]
                + (["merge queue"] if "merge_queue" in s.rules else [])
            ),
        ),
        _Spec(
            "force-push",
            "force pushes blocked",
            "enable 'Block force pushes' (rulesets), or turn off 'Allow force pushes' (branch protection)",
            lambda s: ["blocked"] if _force_blocked(s) else [],
        ),
        _Spec(
            "required-workflow",
            f"{workflow} required from a ruleset",
            f"in an organization ruleset for this repository's branch, add 'Require workflows to pass before "
            f"merging' with {workflow} from the default branch or a commit: GitHub otherwise runs each pull "
            "request's own copy, so a pull request that edits it decides its own check",
            lambda s: list(_workflows(s, workflow, branch)),
        ),
    ]


def diagnose(api: Api, branch: str = "main", *, check: str = CHECK, workflow: str = WORKFLOW) -> Diagnosis:
    """Read the branch's rulesets and protection through ``api`` and judge every item of the README's set-up.

    Raises ForgeError when GitHub cannot be asked at all (no repository, bad token, network).
    """
    repo = api.repo_name
    notes: list[str] = []
    sources = _rulesets(api, repo, branch, notes)
    classic, hidden = _classic(api, repo, branch, notes)
    if classic is not None:
        sources.insert(0, classic)
    items = []
    providers: dict[str, list[_Source]] = {}  # item title -> the sources that set it
    for spec in _specs(check, workflow, branch):
        found = [(s, said) for s in sources for said in spec.find(s)]
        if found:
            providers[spec.title] = list(dict.fromkeys(s for s, _ in found))
            detail = "; ".join(dict.fromkeys(f"{said} by {s.label}" for s, said in found))
            items.append(Item(spec.key, spec.title, OK, detail, spec.fix))
        elif hidden and spec.key != "required-workflow":  # classic protection has no required workflows
            items.append(
                Item(
                    spec.key,
                    spec.title,
                    UNKNOWN,
                    "not in any ruleset; branch protection is hidden from this token",
                    spec.fix,
                )
            )
        else:
            items.append(
                Item(
                    spec.key,
                    spec.title,
                    MISSING,
                    "not set by any ruleset" + ("" if hidden else " or branch protection"),
                    spec.fix,
                )
            )
    items.insert(-1, _no_bypass(providers, hidden))
    if not sources and not hidden:
        notes.insert(0, f"nothing protects {branch}: no branch protection and no active ruleset applies to it")
    return Diagnosis(repo, branch, tuple(items), tuple(s.label for s in sources), tuple(notes))


def _no_bypass(providers: dict[str, list[_Source]], hidden: bool) -> Item:
    """Every item that is set must be set by at least one source that nobody may bypass.

    A bypass of one mechanism does not lift the other's rules (GitHub enforces both), so an item set by
    a ruleset without bypass actors holds even if branch protection lets admins through.
    """
    key, title = "no-bypass", "nobody may bypass"
    fix = (
        "empty the ruleset's bypass list, and in branch protection enable 'Do not allow bypassing the above "
        "settings' with no bypass allowances"
    )
    if not providers:
        return Item(key, title, UNKNOWN if hidden else MISSING, "nothing enforces the items above", fix)
    open_to: dict[str, str] = {}
    unknown: dict[str, None] = {}
    for sources in providers.values():
        if any(s.bypass == [] for s in sources):
            continue
        for s in sources:
            if s.bypass:
                open_to[s.label] = ", ".join(s.bypass)
            else:
                unknown[s.label] = None
    if open_to:
        return Item(key, title, MISSING, "bypass allowed by " + "; ".join(f"{k}: {v}" for k, v in open_to.items()), fix)
    if unknown:
        return Item(key, title, UNKNOWN, "the bypass list is hidden from this token: " + ", ".join(unknown), fix)
    used = dict.fromkeys(s.label for sources in providers.values() for s in sources if s.bypass == [])
    return Item(key, title, OK, "no bypass in " + ", ".join(used), fix)


# --- rendering (no printing here) ---------------------------------------------------------------------------------

_MARKS = {OK: "[x]", MISSING: "[ ]", UNKNOWN: "[?]"}


def render_text(d: Diagnosis) -> str:
    """The checklist: one line per item, a fix hint under each item that is not set, then the notes."""
    by = ", ".join(d.sources) if d.sources else "nothing"
    lines = [f"mlgate doctor: {d.repository}, branch {d.branch} (protected by {by})"]
    width = max(len(i.title) for i in d.items)
    for i in d.items:
        lines.append(f"{_MARKS[i.status]} {i.title:<{width}}  {i.detail}")
        if i.status != OK:
            lines.append(f"    fix: {i.fix}")
    lines += [f"note: {n}" for n in d.notes]
    counts = {s: sum(i.status == s for i in d.items) for s in (OK, MISSING, UNKNOWN)}
    lines.append(
        f"{counts[OK]} of {len(d.items)} set"
        + (f", {counts[MISSING]} missing" if counts[MISSING] else "")
        + (f", {counts[UNKNOWN]} unknown" if counts[UNKNOWN] else "")
    )
    return "\n".join(lines) + "\n"
