"""The local forge: pull requests are branches of this repository, reviews are recorded beside them.

It exists so the whole flow (register, promote, review, merge, roll back) runs
on one machine with no account, for the demo and for tests. Records live in
``<git dir>/mlgate/pulls/<n>.json``: outside the work tree, never committed.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from ..gitrepo import GitRepo
from ..reviews import APPROVED, CHANGES_REQUESTED, COMMENTED, PullRequest, Review
from . import COMMENT_MARKER, ForgeError

REVIEW_STATES = (APPROVED, CHANGES_REQUESTED, COMMENTED)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class LocalForge:
    """Pull requests as branches of a local repository."""

    name = "local"

    def __init__(self, repo_path: str | os.PathLike[str] = ".") -> None:
        self.git = GitRepo(repo_path)
        self.dir = self.git.git_dir() / "mlgate" / "pulls"
        # team membership for `@org/team` entries: <git dir>/mlgate/teams.json {"@org/team": ["login", ...]}
        self.teams_file = self.dir.parent / "teams.json"

    # --- storage -------------------------------------------------------------------

    def _path(self, number: int) -> Path:
        return self.dir / f"{number}.json"

    def _read(self, number: int) -> dict[str, Any]:
        try:
            return json.loads(self._path(number).read_text())
        except FileNotFoundError:
            known = sorted(int(p.stem) for p in self.dir.glob("*.json")) if self.dir.exists() else []
            raise ForgeError(f"no pull request #{number} in the local forge; pull requests: {', '.join(map(str, known)) or 'none'}") from None

    def _write(self, record: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh, indent=2)
        os.replace(tmp, self._path(record["number"]))

    def _new_number(self, record: dict[str, Any]) -> int:
        self.dir.mkdir(parents=True, exist_ok=True)
        number = max((int(p.stem) for p in self.dir.glob("*.json")), default=0) + 1
        while True:  # O_EXCL: two processes opening at once get distinct numbers
            try:
                fd = os.open(self._path(number), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                number += 1
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump({**record, "number": number}, fh, indent=2)
            return number

    def _to_pr(self, r: dict[str, Any]) -> PullRequest:
        head_sha = r.get("head_sha") if r["state"] != "open" else (self.git.branch_sha(r["head"]) or r.get("head_sha", ""))
        return PullRequest(
            number=r["number"], author=r["author"], head_sha=head_sha or "",
            reviews=tuple(Review(**rv) for rv in r["reviews"]), state=r["state"], base=r["base"], head=r["head"],
            title=r["title"], url=f"local:{self.git.root}#{r['number']}", merge_commit=r.get("merge_commit"),
            merged_by=r.get("merged_by"),
        )

    # --- Forge ------------------------------------------------------------------------

    def open_pull_request(self, *, title: str, body: str, head: str, base: str, labels: Sequence[str], author: str) -> PullRequest:
        head_sha = self.git.branch_sha(head)
        if head_sha is None:
            raise ForgeError(f"cannot open a pull request from {head!r}: no such branch")
        if self.git.branch_sha(base) is None:
            raise ForgeError(f"cannot open a pull request into {base!r}: no such branch")
        for n in self._numbers():
            r = self._read(n)
            if r["state"] == "open" and r["head"] == head:
                raise ForgeError(f"branch {head!r} already has an open pull request (#{n})")
        record = {"title": title, "body": body, "labels": list(labels), "author": author, "base": base, "head": head,
                  "head_sha": head_sha, "state": "open", "created_at": now(), "reviews": [], "comments": {}}
        return self._to_pr({**record, "number": self._new_number(record)})

    def _numbers(self) -> list[int]:
        return sorted(int(p.stem) for p in self.dir.glob("*.json")) if self.dir.exists() else []

    def pull_request(self, number: int) -> PullRequest:
        return self._to_pr(self._read(number))

    def list_pull_requests(self) -> list[PullRequest]:
        return [self.pull_request(n) for n in self._numbers()]

    def is_member(self, user: str, team: str) -> bool:
        try:
            teams = json.loads(self.teams_file.read_text())
        except FileNotFoundError:
            return False
        return user.lower() in {u.lower() for u in teams.get(team, [])}

    def set_team(self, team: str, members: Sequence[str]) -> None:
        """Record the members of ``team`` (what an organisation's settings are on GitHub)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        teams = json.loads(self.teams_file.read_text()) if self.teams_file.exists() else {}
        teams[team] = list(members)
        self.teams_file.write_text(json.dumps(teams, indent=2))

    def upsert_comment(self, number: int, body: str, marker: str = COMMENT_MARKER) -> None:
        r = self._read(number)
        r["comments"][marker] = body
        self._write(r)

    def comment(self, number: int, marker: str = COMMENT_MARKER) -> str | None:
        return self._read(number)["comments"].get(marker)

    def pull_requests_for_commit(self, sha: str) -> list[int]:
        return [n for n in self._numbers() if self._read(n).get("merge_commit") == sha]

    # --- what GitHub's web UI does ----------------------------------------------------

    def review(self, number: int, user: str, state: str, body: str = "") -> Review:
        """Record a review of the pull request's current head commit."""
        if state not in REVIEW_STATES:
            raise ForgeError(f"unknown review state {state!r}; states: {', '.join(REVIEW_STATES)}")
        r = self._read(number)
        if r["state"] != "open":
            raise ForgeError(f"pull request #{number} is {r['state']}: it can no longer be reviewed")
        pr = self._to_pr(r)
        review = Review(user, state, pr.head_sha, now())
        r["reviews"].append({**asdict(review)})
        self._write(r)
        return review

    def mark_merged(self, number: int, merge_commit: str, merged_by: str, head_sha: str) -> None:
        r = self._read(number)
        r.update(state="merged", merge_commit=merge_commit, merged_by=merged_by, merged_at=now(), head_sha=head_sha)
        self._write(r)
