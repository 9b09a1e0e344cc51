"""The local forge: pull requests are branches of this repository, reviews are recorded beside them.

It exists so the whole flow (register, promote, review, merge, roll back) runs
on one machine with no account, for the demo and for tests. Records live in
``<git dir>/mlgate/pulls/<n>.json``: outside the work tree, never committed.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

from mlgate.core.signoff import (
    APPROVED,
    CHANGES_REQUESTED,
    COMMENTED,
    DISMISSED,
    PullRequest,
    Review,
    is_login,
    requester_of,
    requesters_of,
)
from mlgate.core.times import format_time
from mlgate.errors import MlgateError
from mlgate.forge import COMMENT_MARKER, ForgeError, PullRequestExists
from mlgate.infra.files import write_json
from mlgate.infra.git import GitRepo

REVIEW_STATES = (APPROVED, CHANGES_REQUESTED, COMMENTED)
PR_STATES = ("open", "merged", "closed")
MAX_RECORD_BYTES = 16 * 1024 * 1024  # a record holds reviews and report comments: megabytes at most
_RECORD_NAME = re.compile(r"^[1-9][0-9]{0,9}\.json$")  # <n>.json; leftovers like .tmp-*.json are not records
_T = TypeVar("_T")

# the fields of a pull request record: their JSON types, and whether the field is required
_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "number": ((int,), True),
    "title": ((str,), True),
    "author": ((str,), True),
    "base": ((str,), True),
    "head": ((str,), True),
    "state": ((str,), True),
    "reviews": ((list,), True),
    "comments": ((dict,), True),
    "body": ((str,), False),
    "labels": ((list,), False),
    "head_sha": ((str,), False),
    "created_at": ((str,), False),
    "merge_commit": ((str, type(None)), False),
    "merged_by": ((str, type(None)), False),
    "merged_at": ((str,), False),
    "closed_at": ((str,), False),
    "closed_by": ((str,), False),
    "close_reason": ((str,), False),
}
_REVIEW_FIELDS = {"user": True, "state": True, "commit": True, "submitted_at": False}


def now() -> str:
    return format_time()


_TYPE_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _load_json(path: Path, what: str) -> Any:
    """The JSON in ``path``; :class:`ForgeError` naming the file if it cannot be read or parsed."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise ForgeError(f"cannot read {what} {path}: {e.strerror or e}") from None
    if len(raw) > MAX_RECORD_BYTES:
        raise ForgeError(f"{path}: corrupt {what} (larger than {MAX_RECORD_BYTES:,} bytes); fix or delete the file")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        problem = (
            "empty file" if not raw.strip() else f"not JSON: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        )
        raise ForgeError(f"{path}: corrupt {what} ({problem}); fix or delete the file") from None


def _record_problem(data: Any, number: int) -> str | None:
    """What is wrong with a pull request record, or None when it has the shape the local forge writes."""
    if not isinstance(data, dict):
        return f"expected a JSON object, found {_type_name(data)}"
    for name, (types, required) in _FIELDS.items():
        if name not in data:
            if required:
                return f"missing {name!r}"
            continue
        value = data[name]
        if not isinstance(value, types) or isinstance(value, bool):
            return f"{name!r} must be {_TYPE_NAMES[types[0]]}, not {_type_name(value)}"
    if data["number"] != number:
        return f"'number' is {data['number']}, not the {number} of its file name"
    if data["state"] not in PR_STATES:
        return f"'state' must be one of {', '.join(PR_STATES)}, not {data['state']!r}"
    if not all(isinstance(x, str) for x in data.get("labels", [])):
        return "'labels' must be a list of strings"
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in data["comments"].items()):
        return "'comments' must map strings to strings"
    for i, review in enumerate(data["reviews"]):
        if not isinstance(review, dict):
            return f"reviews[{i}] must be an object, not {_type_name(review)}"
        for name, required in _REVIEW_FIELDS.items():
            if name not in review:
                if required:
                    return f"reviews[{i}] is missing {name!r}"
            elif not isinstance(review[name], str):
                return f"reviews[{i}].{name} must be a string, not {_type_name(review[name])}"
        if review["state"] not in (*REVIEW_STATES, DISMISSED):
            return f"reviews[{i}].state {review['state']!r} is not a review state"
    return None


class LocalForge:
    """Pull requests as branches of a local repository."""

    name = "local"

    def __init__(self, repo_path: str | os.PathLike[str] = ".") -> None:
        self.git = GitRepo(repo_path)
        self.dir = self.git.git_dir() / "mlgate" / "pulls"
        # team membership for `@org/team` entries: <git dir>/mlgate/teams.json {"@org/team": ["login", ...]}
        self.teams_file = self.dir.parent / "teams.json"
        # repository permissions, like GitHub's collaborators: <git dir>/mlgate/collaborators.json
        # {"login": "write", ...}; without the file everyone has write (a one-machine demo has no strangers)
        self.collaborators_file = self.dir.parent / "collaborators.json"

    # --- storage -------------------------------------------------------------------
    #
    # Every record is replaced whole (temporary file + rename), so a reader sees the old or the new
    # record, never half of one. Read-modify-write steps (open, review, comment, merge, teams) hold
    # one lock, so two processes cannot lose each other's changes or open two pull requests for a branch.

    def _path(self, number: int) -> Path:
        return self.dir / f"{number}.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self.git.lock("local-forge", wait=True):
            yield

    def _read(self, number: int) -> dict[str, Any]:
        path = self._path(number)
        try:
            data = _load_json(path, "local pull request record")
        except FileNotFoundError:
            known = self._numbers()
            raise ForgeError(
                f"no pull request #{number} in the local forge; pull requests: {', '.join(map(str, known)) or 'none'}"
            ) from None
        problem = _record_problem(data, number)
        if problem:
            raise ForgeError(f"{path}: corrupt local pull request record ({problem}); fix or delete the file")
        assert isinstance(data, dict)  # checked by _record_problem
        return data

    def _write_json(self, path: Path, data: Any) -> None:
        write_json(path, data, indent=2)

    def _write(self, record: dict[str, Any]) -> None:
        self._write_json(self._path(record["number"]), record)

    def _update(self, number: int, change: Callable[[dict[str, Any]], _T]) -> _T:
        """Apply ``change`` to record ``number`` and write it back, under the lock; returns what ``change`` returns."""
        with self._locked():
            r = self._read(number)
            result = change(r)
            self._write(r)
            return result

    def _to_pr(self, r: dict[str, Any]) -> PullRequest:
        head_sha = (
            r.get("head_sha") if r["state"] != "open" else (self.git.branch_sha(r["head"]) or r.get("head_sha", ""))
        )
        return PullRequest(
            number=r["number"],
            author=r["author"],
            head_sha=head_sha or "",
            reviews=tuple(
                Review(rv["user"], rv["state"], rv["commit"], rv.get("submitted_at", "")) for rv in r["reviews"]
            ),
            state=r["state"],
            base=r["base"],
            head=r["head"],
            title=r["title"],
            url=f"local:{self.git.root}#{r['number']}",
            merge_commit=r.get("merge_commit"),
            merged_by=r.get("merged_by"),
            body=r.get("body", ""),
            closed_at=r.get("closed_at", "") or r.get("merged_at", ""),
            closed_by=r.get("closed_by") or r.get("merged_by"),
            requester=requester_of(r.get("body")),
            pushers=self._pushers(r, head_sha or ""),
            requested_by=self._commit_requesters(r, head_sha or ""),
        )

    def _commit_requesters(self, r: dict[str, Any], head_sha: str) -> tuple[str, ...]:
        """The requester trailers in the messages of the pull request's commits (mlgate writes one into each)."""
        base = f"{r['merge_commit']}^1" if r.get("merge_commit") else self.git.branch_sha(r["base"])
        if not head_sha or not base:
            return ()
        try:
            out = self.git.git("log", "--format=%B%x00", f"{base}..{head_sha}")
        except MlgateError:
            return ()
        return tuple(dict.fromkeys(requesters_of(out)))

    def _pushers(self, r: dict[str, Any], head_sha: str) -> tuple[str, ...]:
        """Who wrote the pull request's commits: the author and committer names of the commits on its head that
        its base did not have (mlgate writes logins there); for a merged one, as of the merge."""
        base = f"{r['merge_commit']}^1" if r.get("merge_commit") else self.git.branch_sha(r["base"])
        if not head_sha or not base:
            return ()
        try:
            out = self.git.git("log", "--format=%an%x00%cn", f"{base}..{head_sha}")
        except MlgateError:
            return ()  # the head's commits are gone (a deleted branch): nobody is known to have pushed
        names = {n for line in out.splitlines() for n in line.split("\0") if is_login(n)}
        return tuple(sorted(names))

    # --- Forge ------------------------------------------------------------------------

    def open_pull_request(
        self, *, title: str, body: str, head: str, base: str, labels: Sequence[str], author: str
    ) -> PullRequest:
        """Open a pull request from ``head``; :class:`PullRequestExists` if ``head`` already has an open one.

        The check and the creation hold the forge's lock: of two processes opening a pull request
        from the same branch at once, exactly one succeeds.
        """
        head_sha = self.git.branch_sha(head)
        if head_sha is None:
            raise ForgeError(f"cannot open a pull request from {head!r}: no such branch")
        if self.git.branch_sha(base) is None:
            raise ForgeError(f"cannot open a pull request into {base!r}: no such branch")
        with self._locked():
            existing = self.open_pull_request_for(head)
            if existing is not None:
                raise PullRequestExists(existing.number, head)
            number = max(self._numbers(), default=0) + 1
            record = {
                "number": number,
                "title": title,
                "body": body,
                "labels": list(labels),
                "author": author,
                "base": base,
                "head": head,
                "head_sha": head_sha,
                "state": "open",
                "created_at": now(),
                "reviews": [],
                "comments": {},
            }
            self._write(record)
        return self._to_pr(record)

    def open_pull_request_for(self, head: str) -> PullRequest | None:
        """The open pull request whose head is branch ``head``, if there is one."""
        for n in self._numbers():
            r = self._read(n)
            if r["state"] == "open" and r["head"] == head:
                return self._to_pr(r)
        return None

    def _numbers(self) -> list[int]:
        if not self.dir.is_dir():
            return []
        return sorted(int(p.name[:-5]) for p in self.dir.iterdir() if _RECORD_NAME.match(p.name))

    def pull_request(self, number: int) -> PullRequest:
        return self._to_pr(self._read(number))

    def list_pull_requests(self, state: str | None = None) -> list[PullRequest]:
        """Every pull request, oldest first; only those in ``state`` (open, merged, closed) when given."""
        if state is not None and state not in PR_STATES:
            raise ForgeError(f"unknown pull request state {state!r}; states: {', '.join(PR_STATES)}")
        records = (self._read(n) for n in self._numbers())
        return [self._to_pr(r) for r in records if state is None or r["state"] == state]

    def numbers(self) -> list[int]:
        """The numbers of every pull request, oldest first."""
        return self._numbers()

    def opened_at(self, number: int) -> str:
        """When pull request ``number`` was opened (ISO UTC; "" for records that predate the field)."""
        value: str = self._read(number).get("created_at", "")
        return value

    def close_reason(self, number: int) -> str:
        """Why pull request ``number`` was closed without merge, as its closer said ("" if unsaid)."""
        value: str = self._read(number).get("close_reason", "")
        return value

    def _teams(self) -> dict[str, list[str]]:
        try:
            teams = _load_json(self.teams_file, "team list")
        except FileNotFoundError:
            return {}
        if not isinstance(teams, dict) or not all(
            isinstance(members, list) and all(isinstance(u, str) for u in members) for members in teams.values()
        ):
            raise ForgeError(
                f'{self.teams_file}: corrupt team list (expected {{"@org/team": ["login", ...]}}); '
                "fix or delete the file"
            )
        return teams

    def is_member(self, user: str, team: str) -> bool | None:
        teams = {name.lower(): members for name, members in self._teams().items()}  # GitHub's slugs ignore case
        return user.lower() in {u.lower() for u in teams.get(team.lower(), [])}

    def permission(self, user: str) -> str | None:
        """``user``'s permission: from collaborators.json when there is one (others: none), else write."""
        try:
            table = _load_json(self.collaborators_file, "collaborator list")
        except FileNotFoundError:
            return "write"
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise ForgeError(
                f'{self.collaborators_file}: corrupt collaborator list (expected {{"login": "write", ...}}); '
                "fix or delete the file"
            )
        permissions: dict[str, str] = {k.lower(): v for k, v in table.items()}
        return permissions.get(user.lower(), "none")

    def set_permission(self, user: str, permission: str) -> None:
        """Give ``user`` a permission on the repository (admin, maintain, write, triage, read, none)."""
        with self._locked():
            try:
                table = _load_json(self.collaborators_file, "collaborator list")
            except FileNotFoundError:
                table = {}
            table[user] = permission
            self._write_json(self.collaborators_file, table)

    def set_team(self, team: str, members: Sequence[str]) -> None:
        """Record the members of ``team`` (what an organisation's settings are on GitHub)."""
        with self._locked():
            teams = self._teams()
            teams[team] = list(members)
            self._write_json(self.teams_file, teams)

    def upsert_comment(self, number: int, body: str, marker: str = COMMENT_MARKER, short: str | None = None) -> None:
        """Record the report comment (the local forge has no size limit, so ``short`` is not needed)."""
        self._update(number, lambda r: r["comments"].__setitem__(marker, body))

    def comment(self, number: int, marker: str = COMMENT_MARKER) -> str | None:
        body: str | None = self._read(number)["comments"].get(marker)
        return body

    def pull_requests_for_commit(self, sha: str) -> list[int]:
        return [n for n in self._numbers() if self._read(n).get("merge_commit") == sha]

    # --- what GitHub's web UI does ----------------------------------------------------

    def review(self, number: int, user: str, state: str, body: str = "") -> Review:
        """Record a review of the pull request's current head commit."""
        if state not in REVIEW_STATES:
            raise ForgeError(f"unknown review state {state!r}; states: {', '.join(REVIEW_STATES)}")
        if not is_login(user):
            raise ForgeError(f"{user!r} is not a login: a reviewer is a forge user name")

        def add(r: dict[str, Any]) -> Review:
            if r["state"] != "open":
                raise ForgeError(f"pull request #{number} is {r['state']}: it can no longer be reviewed")
            review = Review(user, state, self._to_pr(r).head_sha, now())
            r["reviews"].append(asdict(review))
            return review

        return self._update(number, add)

    def close(self, number: int, closed_by: str | None = None, reason: str = "") -> PullRequest:
        """Close an open pull request without merging it: rejected (its reviews stay: history shows it as
        rejected), recording who closed it, when and, if given, why."""
        if closed_by is not None and not is_login(closed_by):
            raise ForgeError(f"{closed_by!r} is not a login: whoever closes a pull request is a forge user name")

        def shut(r: dict[str, Any]) -> None:
            if r["state"] == "merged":
                raise ForgeError(
                    f"pull request #{number} is merged: it cannot be closed (roll its change back with "
                    "`mlgate rollback`, or revert it by a new pull request)"
                )
            if r["state"] != "open":
                raise ForgeError(f"pull request #{number} is already closed")
            head = self.git.branch_sha(r["head"])
            r.update(state="closed", closed_at=now(), **({"head_sha": head} if head else {}))
            if closed_by is not None:
                r["closed_by"] = closed_by
            if reason:
                r["close_reason"] = reason

        self._update(number, shut)
        return self.pull_request(number)

    def edit_pull_request(self, number: int, *, title: str | None = None, body: str | None = None) -> PullRequest:
        """Replace an open pull request's title and/or description (what GitHub's "Edit" button does)."""

        def edit(r: dict[str, Any]) -> None:
            if r["state"] != "open":
                raise ForgeError(f"pull request #{number} is {r['state']}: it can no longer be edited")
            if title is not None:
                r["title"] = title
            if body is not None:
                r["body"] = body

        self._update(number, edit)
        return self.pull_request(number)

    def set_body(self, number: int, body: str) -> PullRequest:
        """Replace an open pull request's description."""
        return self.edit_pull_request(number, body=body)

    def rejected_pull_requests(self, base: str) -> list[PullRequest]:
        """Pull requests into ``base`` closed without merge."""
        return [pr for pr in self.list_pull_requests() if pr.state == "closed" and pr.base == base]

    def mark_merged(self, number: int, merge_commit: str, merged_by: str, head_sha: str) -> None:
        self._update(
            number,
            lambda r: r.update(
                state="merged", merge_commit=merge_commit, merged_by=merged_by, merged_at=now(), head_sha=head_sha
            ),
        )
