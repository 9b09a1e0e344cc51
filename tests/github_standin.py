"""A GitHub REST API stand-in on 127.0.0.1 for testing the github forge with real PyGithub over HTTP.

It serves the endpoints mlgate uses with the payload shapes GitHub documents
(pulls, reviews, issues, issue comments, labels, team memberships, commit
pulls) and GitHub's error shapes (401 bad credentials, 404, 422 validation
failed, 403 rate limit with x-ratelimit-* headers). State lives in memory;
every request is recorded so tests can count calls.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DOCS = "https://docs.github.com/rest"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 10**7, "node_id": f"U_{login}", "type": "Bot" if login.endswith("[bot]") else "User",
            "site_admin": False, "html_url": f"https://github.com/{login}", "avatar_url": ""}


@dataclass
class State:
    owner: str = "acme"
    name: str = "registry"
    token: str = "t0ken"
    branches: dict[str, str] = field(default_factory=dict)  # name -> sha
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> comment (with "issue")
    teams: dict[str, set[str]] = field(default_factory=dict)  # "org/slug" -> logins
    rate_limited: bool = False
    fail_next: int | None = None  # an HTTP status to answer the next request with
    requests: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1000
    token_user: str = "alice"
    branch_lookup: Any = None  # optional callable: branch name -> sha or None (e.g. reading a bare origin)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


class StandIn:
    """Start with ``with StandIn() as gh:``; ``gh.url`` is the API base URL."""

    def __init__(self) -> None:
        self.state = State()
        handler = type("Handler", (_Handler,), {"state": self.state, "standin": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # --- scripting the world --------------------------------------------------------

    def repo_url(self) -> str:
        return f"{self.url}/repos/{self.state.owner}/{self.state.name}"

    def add_pull(self, number: int, author: str, head_sha: str, base: str = "main", head: str = "feature",
                 base_sha: str = "b" * 40, title: str = "Promote") -> dict[str, Any]:
        pr = self._pull_payload(number, author, head, head_sha, base, base_sha, title, "")
        self.state.pulls[number] = pr
        self.state.reviews[number] = []
        return pr

    def review(self, number: int, user: str, state: str, commit: str | None = None) -> None:
        rid = self.state.new_id()
        pr = self.state.pulls[number]
        self.state.reviews[number].append({
            "id": rid, "node_id": f"PRR_{rid}", "user": _user(user), "body": "", "state": state,
            "html_url": f"https://github.com/{self.state.owner}/{self.state.name}/pull/{number}#pullrequestreview-{rid}",
            "pull_request_url": pr["url"], "author_association": "MEMBER",
            "submitted_at": _now(), "commit_id": commit or pr["head"]["sha"],
            "_links": {"html": {"href": ""}, "pull_request": {"href": pr["url"]}},
        })

    def merge(self, number: int, merge_sha: str, by: str) -> None:
        pr = self.state.pulls[number]
        pr.update(state="closed", merged=True, merged_at=_now(), merge_commit_sha=merge_sha, merged_by=_user(by))

    def _pull_payload(self, number: int, author: str, head: str, head_sha: str, base: str, base_sha: str,
                      title: str, body: str) -> dict[str, Any]:
        repo = self.repo_url()
        full = f"{self.state.owner}/{self.state.name}"
        repo_obj = {"id": 1, "name": self.state.name, "full_name": full, "owner": _user(self.state.owner), "private": True,
                    "url": repo, "html_url": f"https://github.com/{full}", "default_branch": "main"}
        return {
            "url": f"{repo}/pulls/{number}", "id": number * 7, "node_id": f"PR_{number}", "number": number,
            "html_url": f"https://github.com/{full}/pull/{number}", "issue_url": f"{repo}/issues/{number}",
            "comments_url": f"{repo}/issues/{number}/comments", "review_comments_url": f"{repo}/pulls/{number}/comments",
            "commits_url": f"{repo}/pulls/{number}/commits", "statuses_url": f"{repo}/statuses/{head_sha}",
            "state": "open", "locked": False, "title": title, "body": body, "user": _user(author), "labels": [],
            "draft": False, "created_at": _now(), "updated_at": _now(), "closed_at": None, "merged_at": None,
            "merge_commit_sha": None, "merged": False, "mergeable": True, "merged_by": None, "author_association": "MEMBER",
            "head": {"label": f"{self.state.owner}:{head}", "ref": head, "sha": head_sha, "user": _user(self.state.owner), "repo": repo_obj},
            "base": {"label": f"{self.state.owner}:{base}", "ref": base, "sha": base_sha, "user": _user(self.state.owner), "repo": repo_obj},
            "comments": 0, "review_comments": 0, "commits": 1, "additions": 1, "deletions": 1, "changed_files": 1,
        }


class _Handler(BaseHTTPRequestHandler):
    state: State
    standin: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header("x-ratelimit-limit", "5000")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if not any(k.lower() == "x-ratelimit-remaining" for k in (headers or {})):
            self.send_header("x-ratelimit-remaining", "4999")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, errors: list | None = None) -> None:
        body: dict[str, Any] = {"message": message, "documentation_url": DOCS}
        if errors:
            body["errors"] = errors
        self._send(status, body)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        self.state.requests.append((method, path))
        body = self._body() if method in ("POST", "PATCH") else None
        auth = self.headers.get("Authorization", "")
        if auth not in (f"token {self.state.token}", f"Bearer {self.state.token}"):
            return self._error(401, "Bad credentials")
        if self.state.rate_limited:
            return self._send(403, {"message": "API rate limit exceeded for user ID 1.", "documentation_url": DOCS},
                              {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1893456000", "x-ratelimit-used": "5000"})
        if self.state.fail_next is not None:
            status, self.state.fail_next = self.state.fail_next, None
            return self._error(status, "Server Error" if status >= 500 else "Forbidden")
        prefix = f"/repos/{self.state.owner}/{self.state.name}"
        routes = [
            ("POST", rf"^{prefix}/pulls$", self.create_pull),
            ("GET", rf"^{prefix}/pulls/(\d+)$", self.get_pull),
            ("GET", rf"^{prefix}/pulls/(\d+)/reviews$", self.list_reviews),
            ("GET", rf"^{prefix}/issues/(\d+)$", self.get_issue),
            ("POST", rf"^{prefix}/issues/(\d+)/labels$", self.add_labels),
            ("GET", rf"^{prefix}/issues/(\d+)/comments$", self.list_comments),
            ("POST", rf"^{prefix}/issues/(\d+)/comments$", self.create_comment),
            ("PATCH", rf"^{prefix}/issues/comments/(\d+)$", self.edit_comment),
            ("GET", rf"^{prefix}/commits/([0-9a-f]{{7,40}})$", self.get_commit),
            ("GET", rf"^{prefix}/commits/([0-9a-f]{{7,40}})/pulls$", self.commit_pulls),
            ("GET", r"^/orgs/([^/]+)/teams/([^/]+)/memberships/([^/]+)$", self.team_membership),
            # --- mlgate doctor: branch protection and rulesets (handlers at the end of this class) ---
            ("GET", rf"^{prefix}/branches/([^/]+)/protection$", self.branch_protection),
            ("GET", rf"^{prefix}/rules/branches/([^/]+)$", self.branch_rules),
            ("GET", rf"^{prefix}/rulesets$", self.list_rulesets),
            ("GET", rf"^{prefix}/rulesets/(\d+)$", self.get_ruleset),
        ]
        for m, pattern, fn in routes:
            match = re.match(pattern, path)
            if m == method and match:
                return fn(*match.groups(), body=body)
        return self._error(404, "Not Found")

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    # --- endpoints ---------------------------------------------------------------------

    def _pull(self, n: str) -> dict[str, Any] | None:
        pr = self.state.pulls.get(int(n))
        if pr is None:
            self._error(404, "Not Found")
        return pr

    def create_pull(self, body: Any) -> None:
        missing = [k for k in ("title", "head", "base") if not body.get(k)]
        if missing:
            return self._error(422, "Validation Failed", [{"resource": "PullRequest", "field": missing[0], "code": "missing_field"}])
        if self.state.branch_lookup is not None:
            for ref in (body["head"], body["base"]):
                sha = self.state.branch_lookup(ref)
                if sha:
                    self.state.branches[ref] = sha
        if body["head"] not in self.state.branches:
            return self._error(422, "Validation Failed", [{"resource": "PullRequest", "field": "head", "code": "invalid"}])
        for pr in self.state.pulls.values():
            if pr["head"]["ref"] == body["head"] and pr["state"] == "open":
                return self._error(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                   "message": f"A pull request already exists for {self.state.owner}:{body['head']}."}])
        number = max(self.state.pulls, default=0) + 1
        pr = self.standin._pull_payload(number, self.state.token_user, body["head"], self.state.branches[body["head"]],
                                        body["base"], self.state.branches.get(body["base"], "b" * 40), body["title"], body.get("body", ""))
        self.state.pulls[number] = pr
        self.state.reviews[number] = []
        self._send(201, pr)

    def get_pull(self, n: str, body: Any) -> None:
        pr = self._pull(n)
        if pr is not None:
            self._send(200, pr)

    def list_reviews(self, n: str, body: Any) -> None:
        if self._pull(n) is not None:
            self._send(200, self.state.reviews[int(n)])

    def _issue(self, pr: dict[str, Any]) -> dict[str, Any]:
        return {"url": pr["issue_url"], "id": pr["id"], "number": pr["number"], "title": pr["title"], "body": pr["body"],
                "user": pr["user"], "labels": pr["labels"], "state": pr["state"], "comments": 0,
                "comments_url": pr["comments_url"], "html_url": pr["html_url"], "pull_request": {"url": pr["url"]},
                "created_at": pr["created_at"], "updated_at": pr["updated_at"], "closed_at": None}

    def get_issue(self, n: str, body: Any) -> None:
        pr = self._pull(n)
        if pr is not None:
            self._send(200, self._issue(pr))

    def add_labels(self, n: str, body: Any) -> None:
        pr = self._pull(n)
        if pr is None:
            return
        names = body.get("labels", body) if isinstance(body, dict) else body
        for name in names:
            if name not in [label["name"] for label in pr["labels"]]:
                pr["labels"].append({"id": self.state.new_id(), "name": name, "color": "ededed", "default": False,
                                     "url": f"{self.standin.repo_url()}/labels/{name}", "description": None})
        self._send(200, pr["labels"])

    def list_comments(self, n: str, body: Any) -> None:
        if self._pull(n) is not None:
            self._send(200, [c for c in self.state.comments.values() if c["issue"] == int(n)])

    def _comment(self, n: int, text: str, cid: int | None = None) -> dict[str, Any]:
        cid = cid or self.state.new_id()
        repo = self.standin.repo_url()
        return {"id": cid, "node_id": f"IC_{cid}", "url": f"{repo}/issues/comments/{cid}", "issue": n,
                "html_url": f"https://github.com/{self.state.owner}/{self.state.name}/pull/{n}#issuecomment-{cid}",
                "issue_url": f"{repo}/issues/{n}", "body": text, "user": _user(self.state.token_user),
                "created_at": _now(), "updated_at": _now(), "author_association": "MEMBER"}

    def create_comment(self, n: str, body: Any) -> None:
        if self._pull(n) is None:
            return
        comment = self._comment(int(n), body["body"])
        self.state.comments[comment["id"]] = comment
        self._send(201, comment)

    def edit_comment(self, cid: str, body: Any) -> None:
        comment = self.state.comments.get(int(cid))
        if comment is None:
            return self._error(404, "Not Found")
        comment.update(body=body["body"], updated_at=_now())
        self._send(200, comment)

    def get_commit(self, sha: str, body: Any) -> None:
        repo = self.standin.repo_url()
        self._send(200, {"url": f"{repo}/commits/{sha}", "sha": sha, "node_id": f"C_{sha}", "html_url": "",
                         "commit": {"message": "", "url": ""}, "parents": [], "files": []})

    def commit_pulls(self, sha: str, body: Any) -> None:
        self._send(200, [pr for pr in self.state.pulls.values() if pr.get("merge_commit_sha") == sha or pr["head"]["sha"] == sha])

    def team_membership(self, org: str, slug: str, user: str, body: Any) -> None:
        if user.lower() in {u.lower() for u in self.state.teams.get(f"{org}/{slug}", set())}:
            return self._send(200, {"url": f"{self.standin.url}/orgs/{org}/teams/{slug}/memberships/{user}",
                                    "role": "member", "state": "active"})
        self._error(404, "Not Found")

    # --- mlgate doctor: branch protection and rulesets ---------------------------------------------------------
    # The world lives in ``state.settings`` (a :class:`BranchSettings`, set by the test); absent, nothing is protected.

    def _settings(self) -> BranchSettings:
        return getattr(self.state, "settings", None) or BranchSettings()

    def _query(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.path.partition("?")[2]))

    def branch_protection(self, branch: str, body: Any) -> None:
        """GitHub shows classic protection to admins only: others get 403 (an integration token) or 404."""
        from urllib.parse import unquote

        s = self._settings()
        if not s.admin:
            if s.hidden_status == 403:
                return self._error(403, "Resource not accessible by integration")
            return self._error(404, "Not Found")
        if s.branches is not None and unquote(branch) not in s.branches:
            return self._error(404, "Branch not found")
        payload = s.protection.get(unquote(branch))
        if payload is None:
            return self._error(404, "Branch not protected")
        self._send(200, payload)

    def _visible(self, ruleset: dict[str, Any], parents: bool) -> bool:
        return parents or ruleset["source_type"] == "Repository"

    def branch_rules(self, branch: str, body: Any) -> None:
        """Every rule of every active ruleset whose ref_name condition takes the branch, with its ruleset's identity."""
        from urllib.parse import unquote

        ref = f"refs/heads/{unquote(branch)}"
        out = []
        for rs in self._settings().rulesets:
            if rs["enforcement"] != "active" or not _applies(rs, ref):
                continue
            for rule in rs["rules"]:
                out.append({**rule, "ruleset_source_type": rs["source_type"], "ruleset_source": rs["source"],
                            "ruleset_id": rs["id"]})
        self._send(200, out)

    def list_rulesets(self, body: Any) -> None:
        parents = self._query().get("includes_parents", "true") == "true"
        keys = ("id", "name", "target", "source_type", "source", "enforcement", "node_id", "_links", "created_at", "updated_at")
        self._send(200, [{k: rs[k] for k in keys} for rs in self._settings().rulesets if self._visible(rs, parents)])

    def get_ruleset(self, rid: str, body: Any) -> None:
        s = self._settings()
        parents = self._query().get("includes_parents", "true") == "true"
        for rs in s.rulesets:
            if rs["id"] == int(rid) and self._visible(rs, parents):
                shown = dict(rs)
                if not s.can_see_bypass:  # bypass actors are shown to those who may edit the ruleset
                    shown.pop("bypass_actors", None)
                return self._send(200, shown)
        self._error(404, "Not Found")


# --- mlgate doctor: the payloads of branch protection and rulesets, shaped as GitHub documents them ------------------


@dataclass
class BranchSettings:
    """What GitHub enforces on branches: classic protection per branch, rulesets, and what the token may see."""

    protection: dict[str, dict[str, Any]] = field(default_factory=dict)  # branch -> protection_payload(...)
    rulesets: list[dict[str, Any]] = field(default_factory=list)  # ruleset_payload(...)
    admin: bool = True  # may the token read classic protection?
    hidden_status: int = 404  # what GitHub answers a non-admin: 404, or 403 for an integration token
    can_see_bypass: bool = True  # are rulesets' bypass_actors shown to the token?
    branches: tuple[str, ...] | None = None  # the branches that exist (None: any name)


def _applies(ruleset: dict[str, Any], ref: str) -> bool:
    from fnmatch import fnmatchcase

    cond = (ruleset.get("conditions") or {}).get("ref_name") or {}

    def hit(patterns: list[str]) -> bool:
        return any(p == "~ALL" or (p == "~DEFAULT_BRANCH" and ref == "refs/heads/main") or fnmatchcase(ref, p)
                   for p in patterns)

    return hit(cond.get("include") or []) and not hit(cond.get("exclude") or [])


def protection_payload(repo_url: str, branch: str = "main", *, pull_request: bool = True, approvals: int = 1,
                       code_owners: bool = True, dismiss_stale: bool = True, last_push: bool = True,
                       checks: tuple[str, ...] = ("validate",), strict: bool = True, enforce_admins: bool = True,
                       force_pushes: bool = False, bypass_users: tuple[str, ...] = ()) -> dict[str, Any]:
    """``GET /repos/{o}/{r}/branches/{branch}/protection`` (GitHub omits the sections that are off)."""
    url = f"{repo_url}/branches/{branch}/protection"
    data: dict[str, Any] = {"url": url}
    if checks:
        data["required_status_checks"] = {
            "url": f"{url}/required_status_checks", "strict": strict, "contexts": list(checks),
            "contexts_url": f"{url}/required_status_checks/contexts",
            "checks": [{"context": c, "app_id": 15368} for c in checks]}
    if pull_request:
        reviews: dict[str, Any] = {
            "url": f"{url}/required_pull_request_reviews", "dismiss_stale_reviews": dismiss_stale,
            "require_code_owner_reviews": code_owners, "required_approving_review_count": approvals,
            "require_last_push_approval": last_push}
        if bypass_users:
            reviews["bypass_pull_request_allowances"] = {"users": [_user(u) for u in bypass_users], "teams": [], "apps": []}
        data["required_pull_request_reviews"] = reviews
    data.update({
        "required_signatures": {"url": f"{url}/required_signatures", "enabled": False},
        "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": enforce_admins},
        "required_linear_history": {"enabled": False}, "allow_force_pushes": {"enabled": force_pushes},
        "allow_deletions": {"enabled": False}, "block_creations": {"enabled": False},
        "required_conversation_resolution": {"enabled": False}, "lock_branch": {"enabled": False},
        "allow_fork_syncing": {"enabled": False},
    })
    return data


def pull_request_rule(approvals: int = 1, *, code_owners: bool = True, dismiss_stale: bool = True,
                      last_push: bool = True) -> dict[str, Any]:
    return {"type": "pull_request", "parameters": {
        "required_approving_review_count": approvals, "dismiss_stale_reviews_on_push": dismiss_stale,
        "require_code_owner_review": code_owners, "require_last_push_approval": last_push,
        "required_review_thread_resolution": False, "allowed_merge_methods": ["merge", "squash"]}}


def status_checks_rule(*checks: str, strict: bool = True) -> dict[str, Any]:
    return {"type": "required_status_checks", "parameters": {
        "strict_required_status_checks_policy": strict, "do_not_enforce_on_create": False,
        "required_status_checks": [{"context": c, "integration_id": 15368} for c in checks]}}


def merge_queue_rule() -> dict[str, Any]:
    return {"type": "merge_queue", "parameters": {
        "check_response_timeout_minutes": 60, "grouping_strategy": "ALLGREEN", "max_entries_to_build": 5,
        "max_entries_to_merge": 5, "merge_method": "MERGE", "min_entries_to_merge": 1,
        "min_entries_to_merge_wait_minutes": 5}}


def workflows_rule(path: str = ".github/workflows/validate.yml", repository_id: int = 1, ref: str | None = "refs/heads/main",
                   sha: str | None = None) -> dict[str, Any]:
    workflow: dict[str, Any] = {"path": path, "repository_id": repository_id}
    if ref:
        workflow["ref"] = ref
    if sha:
        workflow["sha"] = sha
    return {"type": "workflows", "parameters": {"do_not_enforce_on_create": False, "workflows": [workflow]}}


NON_FAST_FORWARD = {"type": "non_fast_forward"}


def ruleset_payload(standin: StandIn, rid: int, name: str, rules: list[dict[str, Any]], *, organization: bool = False,
                    enforcement: str = "active", include: tuple[str, ...] = ("~DEFAULT_BRANCH",),
                    bypass: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """``GET /repos/{o}/{r}/rulesets/{id}``: a repository's or its organization's branch ruleset."""
    owner, repo = standin.state.owner, standin.state.name
    conditions: dict[str, Any] = {"ref_name": {"include": list(include), "exclude": []}}
    if organization:
        conditions["repository_name"] = {"include": [repo], "exclude": [], "protected": True}
    html = f"https://github.com/organizations/{owner}/settings/rules/{rid}" if organization else \
        f"https://github.com/{owner}/{repo}/rules/{rid}"
    return {
        "id": rid, "name": name, "target": "branch", "source_type": "Organization" if organization else "Repository",
        "source": owner if organization else f"{owner}/{repo}", "enforcement": enforcement,
        "bypass_actors": [dict(b) for b in bypass], "current_user_can_bypass": "never",
        "node_id": f"RRS_{rid}", "_links": {"self": {"href": f"{standin.repo_url()}/rulesets/{rid}"}, "html": {"href": html}},
        "conditions": conditions, "rules": rules, "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-01-05T10:00:00Z",
    }
