"""The write side under attack: leftover branches, identical runs at once, corrupt forge records, exit codes.

Real repositories, real processes (two ``mlgate`` runs released together through their stdin, no sleeps),
the local forge's records on disk, and the GitHub stand-in for a forge on another machine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate.change.propose import promote, register
from mlgate.cli import cli
from mlgate.forge import ForgeError
from mlgate.forge.local import LocalForge
from mlgate.infra.git import GitRepo
from mlgate.infra.yamlio import dump
from mlgate.testing import RegistryRepo, TrainingRun, branch_sha, merge_approved

PROMOTE = "mlgate/promote-fraud-detector-champion-v3"
REGISTER = "mlgate/register-search-ranker-v3"


def one_line_error(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("mlgate: error: "), err
    return err


@pytest.fixture
def training(tmp_path: Path) -> dict[str, TrainingRun]:
    """Two people's training runs of search-ranker: their own weights, the same evaluation and card."""
    return {
        who: TrainingRun.write(tmp_path / who, artifact=f"{who}'s weights".encode() * 10) for who in ("alice", "bob")
    }


def register_args(training: dict[str, TrainingRun], who: str, *extra: str) -> list[str]:
    return [*training[who].register_args("search-ranker"), "--as", who, *extra]


def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commit dates fixed: two runs of one command build the very same commit, the hardest case to tell apart."""
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2026-03-01T12:00:00Z")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-03-01T12:00:00Z")


# --- 1. a leftover branch is taken over only if it is exactly this run's change --------------------


def test_another_requesters_leftover_registration_is_not_adopted(repo, forge, training, run_cli) -> None:
    code, _, _ = run_cli("-C", repo.root, *register_args(training, "alice", "--no-pr"))
    assert code == 0
    left = repo.git.branch_sha(REGISTER)
    before = repo.status()
    code, _, err = run_cli("-C", repo.root, *register_args(training, "bob"))
    assert code == 2
    assert one_line_error(err) == (
        f"mlgate: error: branch '{REGISTER}' already exists with another change (it was made for alice "
        "<alice@users.noreply.localhost>, not for bob; its files differ from what this run would write): "
        f"remove it with `git branch -D {REGISTER}`, then run again\n"
    )
    assert repo.status() == before and repo.git.branch_sha(REGISTER) == left
    assert forge.list_pull_requests() == []  # no PR carrying alice's artifact under bob's name


def test_a_rerun_with_another_note_publishes_the_new_note_never_the_first(repo, forge, run_cli) -> None:
    args = ["promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice"]
    assert run_cli("-C", repo.root, *args, "--note", "first", "--no-pr")[0] == 0
    first = repo.git.branch_sha(PROMOTE)
    code, out, _ = run_cli("-C", repo.root, *args, "--note", "second")
    second = repo.git.branch_sha(PROMOTE)
    assert code == 0 and f"updated branch {PROMOTE}: {first[:12]} -> {second[:12]}" in out
    assert b"note: second" in repo.git.tree(PROMOTE).read("registry/models/fraud-detector/aliases/champion.yaml")
    assert forge.pull_request(1).head_sha == second
    # the identical command finds its own open pull request: nothing to do
    code, _, err = run_cli("-C", repo.root, *args, "--note", "second")
    assert code == 2 and "with this very change: nothing to do" in err


def test_another_requesters_identical_branch_is_not_adopted(repo, forge, run_cli) -> None:
    """The alias file does not name its requester: same tree, but bob must not publish alice's branch."""
    assert (
        run_cli("-C", repo.root, "promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice", "--no-pr")[0]
        == 0
    )
    code, _, err = run_cli("-C", repo.root, "promote", "fraud-detector", "3", "--alias", "champion", "--as", "bob")
    assert code == 2 and "(it was made for alice <alice@users.noreply.localhost>, not for bob)" in one_line_error(err)
    assert forge.list_pull_requests() == []


def test_a_leftover_on_an_older_base_is_replaced_on_the_base_as_it_is_now(repo, forge, run_cli) -> None:
    assert (
        run_cli("-C", repo.root, "promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice", "--no-pr")[0]
        == 0
    )
    repo.write("registry/README.md", "moved on\n")
    main_now = repo.commit("main moves on")
    code, out, _ = run_cli("-C", repo.root, "promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice")
    assert code == 0 and f"updated branch {PROMOTE}" in out
    assert repo.git.git("log", "-1", "--format=%P", PROMOTE).strip() == main_now


def test_an_identical_rerun_names_the_open_pull_request(repo, forge, run_cli) -> None:
    args = ["promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice"]
    assert run_cli("-C", repo.root, *args)[0] == 0
    before = repo.status()
    code, _, err = run_cli("-C", repo.root, *args)
    assert code == 2 and one_line_error(err) == (
        f"mlgate: error: branch '{PROMOTE}' already has an open pull request (#1) with this very change: nothing to do\n"
    )
    assert repo.status() == before
    code, _, err = run_cli("-C", repo.root, "promote", "fraud-detector", "3", "--alias", "champion", "--as", "bob")
    assert code == 2 and "; it is the head of open pull request #1: settle that pull request first" in one_line_error(
        err
    )
    assert repo.status() == before and len(forge.list_pull_requests()) == 1


def test_a_rerun_of_register_keeps_the_earlier_runs_created_at(repo, forge, training, run_cli) -> None:
    """A registration killed a while ago: the re-run writes the same tree by reusing its created_at, and takes over."""
    assert run_cli("-C", repo.root, *register_args(training, "alice", "--no-pr"))[0] == 0
    path = "registry/models/search-ranker/versions/3/version.yaml"
    doc = repo.git.tree(REGISTER).read(path).replace(b"created_at: ", b"created_at: '2020-01-01T00:00:00Z'\nx: ", 1)
    doc = b"\n".join(line for line in doc.splitlines() if not line.startswith(b"x: ")) + b"\n"
    old = repo.git.write_commit(
        [repo.rev("main")],
        {
            path: doc,
            **{
                p: repo.git.tree(REGISTER).read(p)
                for p in (path.replace("version.yaml", "eval.yaml"), path.replace("version.yaml", "card.md"))
            },
        },
        "Register search-ranker v3\n",
        "alice <alice@users.noreply.localhost>",
    )
    repo.git.set_branch(REGISTER, old, repo.git.branch_sha(REGISTER))
    code, out, _ = run_cli("-C", repo.root, *register_args(training, "alice"))
    assert code == 0 and "taken over" in out
    assert forge.pull_request(1).head_sha == old
    assert b"created_at: '2020-01-01T00:00:00Z'" in repo.git.tree(REGISTER).read(path)


def test_a_pushed_leftover_with_another_change_is_refused_locally_and_on_the_remote(
    repo, forge, tmp_path, run_cli
) -> None:
    origin = repo.add_origin(tmp_path / "origin.git")
    args = ["promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice"]
    assert run_cli("-C", repo.root, *args, "--note", "first", "--no-pr")[0] == 0
    pushed = branch_sha(origin, PROMOTE)
    assert pushed == repo.git.branch_sha(PROMOTE)
    code, _, err = run_cli("-C", repo.root, "promote", "fraud-detector", "3", "--alias", "champion", "--as", "bob")
    assert code == 2 and f"(and `git push origin --delete {PROMOTE}` if it was pushed)" in one_line_error(err)
    repo.git.git("branch", "-D", PROMOTE)  # the local half removed only: the remote one still holds the first note
    before = repo.status()
    code, _, err = run_cli("-C", repo.root, *args, "--note", "second")
    assert code == 2 and one_line_error(err).startswith(
        f"mlgate: error: branch '{PROMOTE}' already exists on origin with another change (at {pushed[:12]})"
    )
    assert f"remove it with `git push origin --delete {PROMOTE}`" in err
    assert repo.status() == before and branch_sha(origin, PROMOTE) == pushed and forge.list_pull_requests() == []


def test_a_run_in_another_clone_never_deletes_the_branch_it_did_not_push(
    repo, gh, tmp_path, monkeypatch, run_cli
) -> None:
    """Two clones build the very same commit; the second must not adopt, then delete, the first's pushed branch."""
    fixed_clock(monkeypatch)
    origin = repo.add_origin(tmp_path / "origin.git")
    laptop, ci = (RegistryRepo.clone(origin, tmp_path / name) for name in ("laptop", "ci"))
    gh.use_branches_of(origin)
    monkeypatch.setenv("GITHUB_TOKEN", gh.state.token)
    args = [
        "promote",
        "fraud-detector",
        "3",
        "--alias",
        "champion",
        "--as",
        "alice",
        *gh.cli_options(),
    ]
    code, _, err = run_cli("-C", laptop.root, *args)
    assert code == 0, err
    winner = branch_sha(origin, PROMOTE)
    code, _, err = run_cli("-C", ci.root, *args)
    assert code == 2 and one_line_error(err) == (
        f"mlgate: error: branch '{PROMOTE}' is already on origin, pushed by another run: this run removed its own "
        "local branch and left the remote one alone\n"
    )
    assert (
        branch_sha(origin, PROMOTE) == winner
        and gh.state.pulls[1]["head"]["sha"] == winner
        and len(gh.state.pulls) == 1
    )
    assert ci.git.branch_sha(PROMOTE) is None


def test_a_run_holding_the_branch_makes_a_second_one_stop_at_once(repo, forge, run_cli) -> None:
    before = repo.status()
    with repo.git.lock(f"publish {PROMOTE}", wait=False):
        code, _, err = run_cli(
            "-C", repo.root, "promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice"
        )
    assert code == 2 and one_line_error(err) == (
        f"mlgate: error: another mlgate run is publishing branch '{PROMOTE}' right now: let it finish "
        "(and run this again if it fails)\n"
    )
    assert repo.status() == before and forge.list_pull_requests() == []


# --- 2. identical runs at once: compare-and-swap, exactly one pull request ------------------------


class _RacedGit(GitRepo):
    """A repository where another process (plain git, no mlgate lock) creates the branch at ``at`` just before
    mlgate's create-only update: the interleaving of a lost compare-and-swap, made deterministic."""

    at = ""

    def set_branch(self, branch: str, new: str, old: str | None) -> None:
        if old is None:
            subprocess.run(["git", "branch", branch, self.at or new], cwd=self.root, check=True)
        super().set_branch(branch, new, old)


@pytest.mark.parametrize("same_commit", [False, True], ids=["other-commit", "same-commit"])
def test_a_lost_branch_compare_and_swap_is_reported_and_leaves_the_winner_alone(repo, forge, same_commit: bool) -> None:
    from mlgate.change.propose import _publish
    from mlgate.errors import UsageError

    git = _RacedGit(repo.root)
    base = repo.rev("main")
    path = "registry/models/fraud-detector/aliases/champion.yaml"
    commit = git.write_commit(
        [base],
        {path: repo.path(path).read_bytes().replace(b"version: 2", b"version: 3")},
        "Promote\n",
        "alice <alice@users.noreply.localhost>",
    )
    git.at = commit if same_commit else base
    with pytest.raises(
        UsageError,
        match=re.escape(
            f"branch '{PROMOTE}' was created by another process while this run was publishing it (at {git.at[:12]}); "
            "this run left it alone"
        ),
    ) as info:
        _publish(
            git,
            kind="promote",
            base="main",
            base_sha=base,
            branch=PROMOTE,
            commit=commit,
            title="Promote",
            body="",
            forge=forge,
            author="alice",
            labels=[],
        )
    assert info.value.exit_code == 2
    assert repo.git.branch_sha(PROMOTE) == git.at and forge.list_pull_requests() == []


_CHILD = """
import sys
from mlgate.cli import main
print("ready", flush=True)
sys.stdin.readline()
sys.exit(main(sys.argv[1:]))
"""


def race(*commands: list[str]) -> list[tuple[int, str, str]]:
    """Start one `mlgate` process per command, wait until each is ready, then release them together."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, *cmd],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for cmd in commands
    ]
    for p in procs:
        assert p.stdout.readline() == "ready\n", p.stderr.read()
    for p in procs:
        p.stdin.write("go\n")
    for p in procs:
        p.stdin.flush()
    results = []
    for p in procs:
        out, err = p.communicate()
        results.append((p.returncode, out, err))
    return results


@pytest.mark.parametrize("attempt", range(4))
@pytest.mark.parametrize("remote", [False, True], ids=["no-remote", "with-origin"])
def test_two_identical_promotes_at_once_leave_one_pull_request_whose_branch_exists(
    repo, forge, tmp_path, monkeypatch, remote: bool, attempt: int
) -> None:
    fixed_clock(
        monkeypatch
    )  # both runs build the same commit sha: the case where a loser could delete the winner's branch
    origin = repo.add_origin(tmp_path / "origin.git") if remote else None
    command = ["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice"]
    results = race(command, command)
    assert sorted(code for code, _, _ in results) == [0, 2], results
    _, _, err = next(r for r in results if r[0] == 2)
    assert "Traceback" not in err and "internal error" not in err
    assert re.fullmatch(
        rf"mlgate: error: (another mlgate run is publishing branch '{PROMOTE}' right now: .*"
        rf"|branch '{PROMOTE}' already has an open pull request \(#1\) with this very change: nothing to do)\n",
        err,
    )
    prs = LocalForge(repo.root).list_pull_requests()
    assert [(p.number, p.head, p.state) for p in prs] == [(1, PROMOTE, "open")]
    assert repo.git.branch_sha(PROMOTE) == prs[0].head_sha
    if origin is not None:
        assert branch_sha(origin, PROMOTE) == prs[0].head_sha


@pytest.mark.parametrize("attempt", range(3))
def test_reviews_at_once_are_all_recorded(repo, forge, attempt: int) -> None:
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    reviewers = ["bob", "carol", "dave", "erin", "frank", "grace"]
    results = race(*(["-C", str(repo.root), "review", "1", "--approve", "--as", who] for who in reviewers))
    assert [code for code, _, _ in results] == [0] * len(reviewers), results
    assert sorted(r.user for r in forge.pull_request(1).reviews) == reviewers  # no review lost to another's write


def test_two_different_promotions_at_once_get_two_pull_requests(repo, forge) -> None:
    results = race(
        ["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice"],
        ["-C", str(repo.root), "promote", "search-ranker", "2", "--alias", "shadow", "--as", "bob"],
    )
    assert [code for code, _, _ in results] == [0, 0], results
    prs = forge.list_pull_requests()
    assert sorted(p.number for p in prs) == [1, 2] and all(repo.git.branch_sha(p.head) == p.head_sha for p in prs)


# --- 3. corrupt local-forge records: one line naming the file, exit 2 -------------------------------


def _corrupt(kind: str, record: dict) -> bytes:
    raw = json.dumps(record, indent=2).encode()
    if kind == "empty":
        return b""
    if kind == "truncated":
        return raw[: len(raw) // 2]
    if kind == "not-utf8":
        return b"\xff\xfe{\x00"
    if kind == "deeply-nested":
        return b"[" * 200_000 + b"]" * 200_000
    if kind == "huge":
        return json.dumps({**record, "body": "x" * (17 * 1024 * 1024)}).encode()
    changed = {
        "a-list": lambda r: [r],
        "missing-reviews": lambda r: {k: v for k, v in r.items() if k != "reviews"},
        "reviews-not-a-list": lambda r: {**r, "reviews": {"dave": "APPROVED"}},
        "review-missing-fields": lambda r: {**r, "reviews": [{"user": "dave"}]},
        "review-not-an-object": lambda r: {**r, "reviews": ["dave"]},
        "review-wrong-type": lambda r: {**r, "reviews": [{"user": "dave", "state": "APPROVED", "commit": 7}]},
        "author-a-number": lambda r: {**r, "author": 5},
        "number-a-string": lambda r: {**r, "number": "1"},
        "number-of-another-file": lambda r: {**r, "number": 2},
        "unknown-state": lambda r: {**r, "state": "weird"},
        "comments-null": lambda r: {**r, "comments": None},
    }[kind](record)
    return json.dumps(changed).encode()


CORRUPTIONS = [
    "empty",
    "truncated",
    "not-utf8",
    "deeply-nested",
    "huge",
    "a-list",
    "missing-reviews",
    "reviews-not-a-list",
    "review-missing-fields",
    "review-not-an-object",
    "review-wrong-type",
    "author-a-number",
    "number-a-string",
    "number-of-another-file",
    "unknown-state",
    "comments-null",
]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_a_corrupt_pull_request_record_is_a_one_line_error_naming_the_file(repo, forge, run_cli, kind: str) -> None:
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    path = repo.git.git_dir() / "mlgate" / "pulls" / "1.json"
    bad = _corrupt(kind, json.loads(path.read_text()))
    path.write_bytes(bad)
    before = repo.status()
    for args in (
        ["validate", "--forge", "local", "--pr", "1"],
        ["review", "1", "--approve", "--as", "dave"],
        ["merge", "1", "--as", "dave"],
        ["promote", "search-ranker", "2", "--alias", "shadow", "--as", "bob"],
    ):
        code, _, err = run_cli("-C", repo.root, *args)
        assert code == 2, (args, err)
        assert one_line_error(err).startswith(f"mlgate: error: {path}: corrupt local pull request record ("), err
        assert err.endswith("; fix or delete the file\n")
    with pytest.raises(ForgeError, match=re.escape(str(path))) as info:
        forge.list_pull_requests()
    assert info.value.exit_code == 2
    assert path.read_bytes() == bad and repo.status() == before  # nothing written, nothing half-done
    assert not [p.name for p in path.parent.iterdir() if p.name != "1.json"]


@pytest.mark.parametrize(
    "content",
    [b"", b"[]", b'{"@acme/ml-leads": "dave"}', b'{"@acme/ml-leads": [1]}', b"{"],
    ids=["empty", "a-list", "members-not-a-list", "member-not-a-string", "truncated"],
)
def test_a_corrupt_team_list_is_a_one_line_error_naming_the_file(repo, forge, run_cli, content: bytes) -> None:
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    forge.review(1, "dave", "APPROVED")
    forge.teams_file.write_bytes(content)
    code, _, err = run_cli("-C", repo.root, "validate", "--forge", "local", "--pr", "1")
    assert code == 2 and one_line_error(err).startswith(f"mlgate: error: {forge.teams_file}: corrupt team list (")
    with pytest.raises(ForgeError, match="corrupt team list"):
        forge.set_team("@acme/ml-leads", ["dave"])
    assert forge.teams_file.read_bytes() == content


def test_stray_files_beside_the_records_are_not_pull_requests(repo, forge, run_cli) -> None:
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    pulls = repo.git.git_dir() / "mlgate" / "pulls"
    for name in (".tmp-k2j3.json", "notes.json", "01.json"):  # an interrupted write, a note, not a record name
        (pulls / name).write_text("")
    assert [p.number for p in forge.list_pull_requests()] == [1]
    assert run_cli("-C", repo.root, "promote", "search-ranker", "2", "--alias", "shadow", "--as", "bob")[0] == 0
    assert [p.number for p in forge.list_pull_requests()] == [1, 2]
    code, _, err = run_cli("-C", repo.root, "review", "7", "--approve", "--as", "dave")
    assert code == 2 and "no pull request #7 in the local forge; pull requests: 1, 2" in err


# --- 4. rollback judges its gate like promote --------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["promote", "churn-predictor", "1", "--alias", "champion"],
        ["rollback", "churn-predictor", "--alias", "champion", "--to", "1"],
    ],
    ids=["promote", "rollback"],
)
def test_a_deprecated_target_exits_1_with_the_gate_table_for_promote_and_rollback(
    repo, forge, run_cli, command
) -> None:
    before = repo.status()
    code, out, err = run_cli("-C", repo.root, *command, "--as", "oncall")
    assert code == 1
    assert "fail     deprecated             version 1 is deprecated" in out
    assert (
        "churn-predictor@champion: 3 -> 1 (promotion) fails its gate (deprecated, metric auc, no regression auc); "
        "nothing was created (use --force to open the pull request anyway)" in one_line_error(err)
    )
    assert repo.status() == before and forge.list_pull_requests() == []
    code, _, err = run_cli(
        "-C", repo.root, *command, "--as", "oncall", "--force"
    )  # forced: the validator still refuses it
    assert code == 2 and "MG205 alias 'champion' points at version 1, deprecated in model.yaml" in one_line_error(err)
    assert repo.status() == before


def test_a_revert_to_a_version_deprecated_since_exits_1(repo, forge, run_cli) -> None:
    p = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "dave", "erin")
    model = repo.read_yaml("registry/models/fraud-detector/model.yaml")
    model["deprecated"] = [{"version": 2, "reason": "label leak"}]
    repo.write("registry/models/fraud-detector/model.yaml", dump(model))
    repo.commit("Deprecate fraud-detector v2")
    before = repo.status()
    code, out, err = run_cli("-C", repo.root, "rollback", "fraud-detector", "--alias", "champion", "--as", "oncall")
    assert code == 1 and "version 2 is deprecated: label leak" in out and "fails its gate (deprecated" in err
    assert repo.status() == before and len(forge.list_pull_requests()) == 1


def test_the_rollback_help_example_of_a_refused_rollback_works(repo, run_cli) -> None:
    import click

    text = cli.commands["rollback"].get_help(click.Context(cli.commands["rollback"], info_name="rollback"))
    assert "refuses (exit 1, with the gate table)" in " ".join(text.split())
    line = next(l for l in text.splitlines() if "--to 1" in l)
    args = shlex.split(line.split("#")[0])
    assert args[0] == "mlgate" and "exit 1" in line
    code, out, _ = run_cli("-C", repo.root, *args[1:], "--as", "oncall")
    assert code == 1 and "fail     deprecated" in out


def test_register_library_still_reports_the_open_pull_request(repo, forge, training) -> None:
    kw = {**training["alice"].register_kwargs(), "author": "alice", "forge": forge}
    first = register(repo.root, "search-ranker", **kw)
    with pytest.raises(ForgeError, match=r"already has an open pull request \(#1\) with this very change") as info:
        register(repo.root, "search-ranker", **kw)
    assert info.value.exit_code == 2 and repo.git.branch_sha(first.branch) == first.commit
