"""The GitHub forge (github.com or GitHub Enterprise), through PyGithub. The only PyGithub importer."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import github
import requests
from github import Auth, GithubException

from ..reviews import PullRequest, Review
from . import COMMENT_MARKER, ForgeError


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """GitHub and network failures -> one clear ForgeError (exit 2), never a traceback."""
    try:
        yield
    except github.RateLimitExceededException as e:
        reset = (e.headers or {}).get("x-ratelimit-reset") or (e.headers or {}).get("retry-after")
        raise ForgeError(f"GitHub rate limit exceeded while trying to {what}"
                         + (f" (resets at epoch {reset})" if reset else "") + "; retry later") from None
    except github.BadCredentialsException:
        raise ForgeError(f"GitHub rejected the token (401) while trying to {what}: check GITHUB_TOKEN") from None
    except github.UnknownObjectException:
        raise ForgeError(f"GitHub found nothing (404) while trying to {what}: check the repository name and "
                         f"that the token can see it") from None
    except GithubException as e:
        detail = e.data.get("message") if isinstance(e.data, dict) else str(e.data)
        errors = e.data.get("errors") if isinstance(e.data, dict) else None
        if errors:
            detail += ": " + "; ".join(str(x.get("message") or x.get("code")) if isinstance(x, dict) else str(x) for x in errors)
        raise ForgeError(f"GitHub answered {e.status} while trying to {what}: {detail}") from None
    except requests.RequestException as e:
        raise ForgeError(f"cannot reach GitHub to {what}: {type(e).__name__}: {e}") from None


class GitHubForge:
    """Pull requests, reviews, comments and team membership on GitHub."""

    name = "github"

    def __init__(self, repo: str, token: str, base_url: str = "https://api.github.com", timeout: int = 15) -> None:
        # No retries and no throttling inside PyGithub: a CI check should fail fast and say why.
        self.gh = github.Github(auth=Auth.Token(token), base_url=base_url.rstrip("/"), timeout=timeout, retry=None,
                                seconds_between_requests=None, seconds_between_writes=None, user_agent="mlgate", lazy=True)
        self.repo_name = repo
        self.repo = self.gh.get_repo(repo)

    def open_pull_request(self, *, title: str, body: str, head: str, base: str, labels: Sequence[str], author: str) -> PullRequest:
        with _translated(f"open a pull request from {head} into {base}"):
            pr = self.repo.create_pull(base=base, head=head, title=title, body=body)
        if labels:
            with _translated(f"label pull request #{pr.number}"):
                pr.add_to_labels(*labels)
        return self._convert(pr, reviews=())

    def pull_request(self, number: int) -> PullRequest:
        with _translated(f"read pull request #{number}"):
            pr = self.repo.get_pull(number)
            reviews = tuple(
                Review(r.user.login if r.user else "ghost", r.state, r.commit_id or "",
                       r.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ") if r.submitted_at else "")
                for r in pr.get_reviews()
            )
            return self._convert(pr, reviews)

    def _convert(self, pr: object, reviews: tuple[Review, ...]) -> PullRequest:
        state = "merged" if pr.merged else pr.state
        return PullRequest(
            number=pr.number, author=pr.user.login, head_sha=pr.head.sha, reviews=reviews, state=state,
            base=pr.base.ref, head=pr.head.ref, title=pr.title, url=pr.html_url,
            merge_commit=pr.merge_commit_sha if pr.merged else None,
            merged_by=pr.merged_by.login if pr.merged and pr.merged_by else None,
        )

    def is_member(self, user: str, team: str) -> bool:
        org, _, slug = team.lstrip("@").partition("/")
        with _translated(f"check whether {user} is in {team} (the token needs read:org)"):
            try:
                _, data = self.gh.requester.requestJsonAndCheck("GET", f"/orgs/{org}/teams/{slug}/memberships/{user}")
            except github.UnknownObjectException:
                return False  # 404: not a member (or the team does not exist)
        return isinstance(data, dict) and data.get("state") == "active"

    def upsert_comment(self, number: int, body: str, marker: str = COMMENT_MARKER) -> None:
        text = f"{marker}\n{body}"
        with _translated(f"comment on pull request #{number}"):
            issue = self.repo.get_issue(number)
            for comment in issue.get_comments():
                if comment.body and comment.body.startswith(marker):
                    comment.edit(text)
                    return
            issue.create_comment(text)

    def pull_requests_for_commit(self, sha: str) -> list[int]:
        with _translated(f"find the pull requests of commit {sha[:12]}"):
            return [pr.number for pr in self.repo.get_commit(sha).get_pulls()]

    def api_json(self, path: str) -> Any:
        """GET ``path`` (e.g. ``/repos/o/r/rulesets``) of GitHub's REST API and return its JSON; for ``mlgate doctor``.

        A refusal is a ForgeError carrying ``status`` (GitHub's HTTP status, None when nothing answered) and
        ``github_message`` (GitHub's own ``message``): a 404 "Branch not protected" and a 404 that hides
        protection from a non-admin say different things.
        """
        answer: dict = {"status": None, "message": None}
        try:
            with _translated(f"read {path.split('?', 1)[0]}"):
                try:
                    _, data = self.gh.requester.requestJsonAndCheck("GET", path)
                except GithubException as e:
                    answer["status"] = e.status
                    answer["message"] = e.data.get("message") if isinstance(e.data, dict) else None
                    raise
        except ForgeError as e:
            e.status, e.github_message = answer["status"], answer["message"]  # type: ignore[attr-defined]
            raise
        return data
