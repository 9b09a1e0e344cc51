"""register / promote / rollback / review / merge on real repositories with the local forge."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mlgate import Registry, validate_repo
from mlgate.change.propose import GateFailed, MergeRefused, merge_pull_request, promote, register, rollback
from mlgate.errors import CheckFailed, InputError, NotFoundError, UsageError
from mlgate.forge import ForgeError
from mlgate.forge.local import LocalForge
from mlgate.registry.artifacts import describe_local
from mlgate.testing import DATASET_SHA256, RegistryRepo, TrainingRun, approve, lineage

#: a digest given for an artifact mlgate cannot read (a remote URI)
REMOTE_SHA256 = hashlib.sha256(b"remote weights").hexdigest()


@pytest.fixture
def training(tmp_path: Path) -> TrainingRun:
    """Version 4 of fraud-detector as a training run leaves it: good enough for champion, with its bias audit."""
    return TrainingRun.write(
        tmp_path / "out",
        artifact=b"\x00weights" * 1000,
        artifact_name="model.onnx",
        metrics={"auc": 0.93, "latency_p99_ms": 30},
        evidence={"bias_audit": "# audit\nfine\n"},
    )


def _register(repo, training: TrainingRun, forge, **kw):
    args = {**training.register_kwargs(params={"lr": 0.1}), "author": "alice", "forge": forge, **kw}
    return register(repo.root, args.pop("model", "fraud-detector"), **args)


def _worktree(repo: RegistryRepo) -> tuple[str, str, str]:
    return (
        repo.git.git("status", "--porcelain", "--untracked-files=all"),
        repo.rev("HEAD"),
        repo.git.current_branch() or "",
    )


def test_register_writes_the_next_version_on_a_branch_and_opens_a_pr(repo, training, forge) -> None:
    before = _worktree(repo)
    p = _register(repo, training, forge)
    assert (p.version, p.branch, p.pr.number) == (4, "mlgate/register-fraud-detector-v4", 1)
    assert _worktree(repo) == before  # no checkout, nothing staged
    reg = Registry.open(repo.root, p.branch)
    v = reg.version("fraud-detector", 4)
    info = describe_local(training.artifact)
    assert (v.artifact.sha256, v.artifact.size, v.artifact.format) == (info.sha256, 8000, "onnx")
    assert v.artifact.uri == training.artifact.resolve().as_uri()
    assert dict(v.evidence) == {"bias_audit": "bias-audit.md"} and v.created_by == "alice"
    assert reg.eval("fraud-detector", 4).metrics["auc"] == 0.93
    assert forge.pull_request(1).head_sha == p.commit and forge.pull_request(1).author == "alice"
    assert validate_repo(repo.root, base="main", head=p.branch).ok


def test_register_a_new_model_needs_its_description_and_owners(repo, training, forge) -> None:
    with pytest.raises(UsageError, match=r"missing --model-description and at least one --owner \(the model is new\)"):
        _register(repo, training, forge, model="new-model")
    p = _register(repo, training, forge, model="new-model", model_description="A new one.", owners=["@acme/ml-leads"])
    assert p.version == 1
    assert Registry.open(repo.root, p.branch).model("new-model").owners == ("@acme/ml-leads",)


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        (
            lambda r: r.eval_file.write_text("dataset: {name: h, sha256: 12}\n"),
            UsageError,
            r"eval.yaml \(from .* would be invalid",
        ),
        (lambda r: r.eval_file.write_text("metrics: [1\n"), InputError, "eval.yaml"),
        (lambda r: r.card_file.write_text("  \n"), InputError, "the model card is empty"),
        (lambda r: r.artifact.unlink(), InputError, "artifact not found"),
    ],
    ids=["eval-schema", "eval-yaml", "empty-card", "no-artifact"],
)
def test_register_refuses_bad_input_and_leaves_nothing(repo, training, forge, change, error, words) -> None:
    before = repo.status()
    change(training)
    with pytest.raises(error, match=words):
        _register(repo, training, forge)
    assert repo.status() == before
    assert forge.list_pull_requests() == []


def test_register_names_the_missing_lineage_option(repo, training, forge) -> None:
    with pytest.raises(UsageError, match=r"cannot register fraud-detector: missing --run-id\Z"):
        _register(repo, training, forge, lineage={k: v for k, v in lineage().items() if k != "run_id"})


def test_register_names_every_missing_option_in_one_error(repo, training, forge, tmp_path: Path) -> None:
    """B8: not one refusal per run, each naming the next missing flag."""
    before = repo.status()
    store = tmp_path / "store"
    with pytest.raises(UsageError) as e:
        _register(repo, training, forge, model="new-model", lineage={}, store=str(store))
    assert str(e.value) == (
        "cannot register new-model: missing --run-id; --git-sha (or --lineage auto); --code-repo (or --lineage "
        "auto); --dataset-uri; --dataset-sha256; --model-description and at least one --owner (the model is new)"
    )
    assert repo.status() == before and not store.exists()  # refused before anything was uploaded


@pytest.mark.parametrize(
    ("name", "why"), [("a..b", "contains '..'"), ("a.lock", "ends in '.lock'"), ("a.", "ends in '.'")]
)
def test_register_refuses_a_model_name_git_cannot_branch(repo, training, forge, name, why) -> None:
    """B6: such a name passed the name rule, then failed inside git."""
    before = repo.status()
    with pytest.raises(UsageError, match=f"{name!r} is not a valid model name: {why}"):
        _register(repo, training, forge, model=name, model_description="x", owners=["alice"])
    assert repo.status() == before and forge.list_pull_requests() == []


def test_register_a_remote_uri_needs_its_digest(repo, training, forge) -> None:
    with pytest.raises(UsageError, match="needs --sha256, --size and --format"):
        _register(repo, training, forge, artifact="s3://bucket/model.onnx")
    p = _register(
        repo,
        training,
        forge,
        artifact="s3://bucket/model.onnx",
        artifact_sha256=REMOTE_SHA256,
        artifact_size=5,
        artifact_format="onnx",
    )
    assert Registry.open(repo.root, p.branch).version("fraud-detector", 4).artifact.uri == "s3://bucket/model.onnx"


def test_register_checks_a_given_digest_of_a_local_file(repo, training, forge) -> None:
    with pytest.raises(InputError, match="not the 0000"):
        _register(repo, training, forge, artifact_sha256="0" * 64)


def test_store_is_content_addressed_and_idempotent(repo, training, forge, tmp_path: Path) -> None:
    store = tmp_path / "store"
    p = _register(repo, training, forge, store=str(store), open_pr=False)
    digest = describe_local(training.artifact).sha256
    stored = store / "sha256" / digest[:2] / digest
    assert stored.read_bytes() == training.artifact.read_bytes()
    assert Registry.open(repo.root, p.branch).version("fraud-detector", 4).artifact.uri == stored.resolve().as_uri()
    mtime = stored.stat().st_mtime_ns
    register(
        repo.root,
        "search-ranker",
        author="bob",
        **{**training.register_kwargs(), "evidence": {}},
        store=f"file://{store}",
        open_pr=False,
    )
    assert stored.stat().st_mtime_ns == mtime  # not written again
    assert [p for p in store.rglob("*") if p.is_file()] == [stored]  # and no second copy anywhere


def test_folder_artifacts_have_a_deterministic_digest(tmp_path: Path) -> None:
    digests = []
    for i, order in enumerate((["b.bin", "a.txt", "sub/c"], ["sub/c", "a.txt", "b.bin"])):
        d = tmp_path / f"model{i}"
        for name in order:
            (d / name).parent.mkdir(parents=True, exist_ok=True)
            (d / name).write_text(name)
            os.utime(d / name, (1_000_000 + i * 5000, 1_000_000 + i * 5000))
        digests.append(describe_local(d))
    assert digests[0].sha256 == digests[1].sha256 and digests[0].format == "tar"
    (tmp_path / "model1" / "a.txt").write_text("changed")
    assert describe_local(tmp_path / "model1").sha256 != digests[0].sha256


def test_two_registrations_of_the_same_number_collide(repo, training, forge) -> None:
    _register(repo, training, forge)
    before = repo.status()
    with pytest.raises(
        ForgeError, match=r"branch 'mlgate/register-fraud-detector-v4' already has an open pull request \(#1\)"
    ):
        _register(repo, training, forge)
    training.eval_file.write_text(f"dataset: {{name: other, sha256: {DATASET_SHA256}}}\nmetrics: {{auc: 0.99}}\n")
    with pytest.raises(
        UsageError,
        match=r"already exists with another change \(it was made for alice <alice@users.noreply.localhost>, "
        r"not for bob; its files differ from what this run would write\); it is the head of open pull request #1",
    ):
        _register(repo, training, forge, evidence={}, author="bob")
    assert repo.status() == before


def test_promote_body_is_the_gate_report(repo, forge) -> None:
    p = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge, note="Q3 winner")
    assert p.gate.kind == "promotion" and p.gate.status == "pending"
    assert "| no regression auc | :white_check_mark: pass | v3 0.911 vs v2 0.902" in p.body
    alias = Registry.open(repo.root, p.branch).aliases("fraud-detector")["champion"]
    assert (alias.version, alias.note) == (3, "Q3 winner")
    assert (
        repo.git.git("diff", "--stat", "main", p.branch)
        .strip()
        .endswith("1 file changed, 2 insertions(+), 2 deletions(-)")
    )


def test_promote_refuses_a_failing_gate_unless_forced(repo, forge) -> None:
    before = repo.status()
    with pytest.raises(
        GateFailed, match=r"churn-predictor@champion: 3 -> 4 \(promotion\) fails its gate \(no regression auc\)"
    ):
        promote(repo.root, "churn-predictor", 4, "champion", author="alice", forge=forge)
    assert repo.status() == before
    p = promote(repo.root, "churn-predictor", 4, "champion", author="alice", forge=forge, force=True)
    assert p.pr.number == 1 and ":x: fail" in p.body


def test_promote_needs_a_merged_version(repo, training, forge) -> None:
    _register(repo, training, forge)
    with pytest.raises(NotFoundError, match="no version 4; versions: 1, 2, 3 on main"):
        promote(repo.root, "fraud-detector", 4, "champion", author="alice", forge=forge)
    with pytest.raises(UsageError, match="already points at version 2"):
        promote(repo.root, "fraud-detector", 2, "champion", author="alice", forge=forge)


def test_merge_refuses_until_approved_then_merges_like_github(repo, forge) -> None:
    p = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    main_before = repo.rev("main")
    with pytest.raises(MergeRefused) as info:
        merge_pull_request(repo.root, forge, 1, "dave")
    assert [f.rule for f in info.value.report.errors] == ["MG406"]
    assert repo.rev("main") == main_before
    approve(forge, 1, "dave", "erin")
    sha, report = merge_pull_request(repo.root, forge, 1, "dave")
    assert report.ok and repo.rev("main") == sha
    assert repo.git.git("log", "-1", "--format=%P%n%an%n%s%n%b", "main").splitlines()[:4] == [
        f"{main_before} {p.commit}",
        "dave",
        "Merge pull request #1 from mlgate/promote-fraud-detector-champion-v3",
        "Promote fraud-detector v3 to champion",
    ]
    # main was checked out and clean: the work tree follows
    assert repo.read_yaml("registry/models/fraud-detector/aliases/champion.yaml")["version"] == 3
    assert forge.pull_request(1).state == "merged" and forge.pull_requests_for_commit(sha) == [1]
    with pytest.raises(ForgeError, match="is merged: it can no longer be reviewed"):
        forge.review(1, "dave", "APPROVED")


def test_an_approval_goes_stale_when_the_branch_moves(repo, forge) -> None:
    p = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    approve(forge, 1, "dave", "erin")
    repo.switch(p.branch)
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", note="changed after review")
    repo.commit("tweak")
    repo.switch("main")
    with pytest.raises(MergeRefused) as info:
        merge_pull_request(repo.root, forge, 1, "dave")
    assert "approved an older commit" in info.value.report.errors[0].message


def test_merge_refuses_a_dirty_checkout_of_the_base(repo, forge) -> None:
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    approve(forge, 1, "dave", "erin")
    repo.write(
        "registry/models/fraud-detector/model.yaml",
        repo.path("registry/models/fraud-detector/model.yaml").read_text() + "# local edit\n",
    )
    before = (repo.status(), repo.rev("main"))
    with pytest.raises(UsageError, match="uncommitted changes"):
        merge_pull_request(repo.root, forge, 1, "dave")
    assert (repo.status(), repo.rev("main")) == before


def test_a_merge_is_rejudged_against_the_moved_base(repo, forge) -> None:
    """PR 1 promotes v3; meanwhile PR 2 deprecates v3 and merges first: PR 1 can no longer merge."""
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    approve(forge, 1, "dave", "erin")
    repo.branch("deprecate-v3")
    model = repo.read_yaml("registry/models/fraud-detector/model.yaml")
    model["deprecated"] = [{"version": 3, "reason": "leaks labels"}]
    repo.write("registry/models/fraud-detector/model.yaml", model)
    repo.edit_yaml("registry/models/fraud-detector/aliases/challenger.yaml", version=2)
    repo.commit("Deprecate v3")
    repo.switch("main")
    pr2 = forge.open_pull_request(
        title="Deprecate v3", body="", head="deprecate-v3", base="main", labels=[], author="bob"
    )
    approve(forge, pr2.number, "dave")
    merge_pull_request(repo.root, forge, pr2.number, "pat")
    with pytest.raises(MergeRefused) as info:
        merge_pull_request(repo.root, forge, 1, "dave")
    assert "MG205" in {f.rule for f in info.value.report.errors}  # reported once (the gate table shows MG405)


def test_merge_conflict_is_refused(repo, forge) -> None:
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    promote(repo.root, "fraud-detector", 1, "champion", author="bob", forge=forge, force=True)
    approve(forge, 1, "dave", "erin")
    merge_pull_request(repo.root, forge, 1, "dave")
    approve(forge, 2, "dave", "erin")
    with pytest.raises(CheckFailed, match="conflicts with main"):
        merge_pull_request(repo.root, forge, 2, "dave")


def test_rollback_reverts_the_last_change(repo, forge) -> None:
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    approve(forge, 1, "dave", "erin")
    merge_sha, _ = merge_pull_request(repo.root, forge, 1, "dave")
    p = rollback(repo.root, "fraud-detector", "champion", author="oncall", forge=forge)
    assert p.title == 'Revert "Promote fraud-detector v3 to champion"'
    assert f"This reverts commit {merge_sha}." in repo.git.git("log", "-1", "--format=%B", p.branch)
    assert (p.gate.kind, p.gate.from_version, p.gate.to_version) == ("rollback", 3, 2)
    path = "registry/models/fraud-detector/aliases/champion.yaml"
    assert repo.git.tree(p.branch).read(path) == repo.git.tree(f"{merge_sha}^1").read(path)  # the exact old bytes
    approve(forge, 2, "mallory")
    merge_pull_request(repo.root, forge, 2, "mallory")
    assert Registry.open(repo.root, "main").resolve("models:/fraud-detector@champion").version.version == 2


def test_rollback_to_an_explicit_version_and_its_errors(repo, forge) -> None:
    # v1 never held champion and regresses on v2: judged like a promotion, refused unless forced
    before = repo.status()
    with pytest.raises(
        GateFailed, match=r"fraud-detector@champion: 2 -> 1 \(promotion\) fails its gate \(no regression auc\)"
    ):
        rollback(repo.root, "fraud-detector", "champion", author="oncall", to=1, forge=forge)
    assert repo.status() == before
    p = rollback(repo.root, "fraud-detector", "champion", author="oncall", to=1, forge=forge, force=True)
    assert p.gate.to_version == 1 and p.title == "Roll back fraud-detector@champion to v1"
    with pytest.raises(UsageError, match="has no earlier version"):
        rollback(repo.root, "search-ranker", "champion", author="oncall", forge=forge)
    with pytest.raises(NotFoundError, match="is not set on main"):
        rollback(repo.root, "search-ranker", "shadow", author="oncall", forge=forge)


class _DownForge(LocalForge):
    """A forge that is unreachable when asked to open a pull request."""

    def open_pull_request(self, **kw):  # noqa: ANN003, ANN201
        raise ForgeError("forge is down")


def test_a_failure_while_opening_the_pr_removes_the_branch(repo) -> None:
    before = repo.status()
    with pytest.raises(ForgeError, match="forge is down"):
        promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=_DownForge(repo.root))
    assert repo.status() == before
    # and the command can simply be run again
    assert (
        promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=LocalForge(repo.root)).pr.number == 1
    )


def test_cli_flow(repo, forge, training, run_cli) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        return run_cli("-C", repo.root, *args)

    code, out, _ = run(
        "register",
        "fraud-detector",
        "--artifact",
        str(training.artifact),
        "--eval",
        str(training.eval_file),
        "--card",
        str(training.card_file),
        "--evidence",
        f"bias_audit={training.evidence['bias_audit']}",
        "--run-id",
        "r1",
        "--git-sha",
        "c" * 40,
        "--code-repo",
        "https://github.com/acme/x",
        "--dataset-uri",
        "s3://d/x",
        "--dataset-sha256",
        DATASET_SHA256,
        "--param",
        "lr=0.1",
        "--param",
        "objective=binary",
        "--env",
        "python=3.10",
        "--as",
        "alice",
    )
    assert code == 0 and "pull request #1: local:" in out
    v = Registry.open(repo.root, "mlgate/register-fraud-detector-v4").version("fraud-detector", 4)
    assert (
        dict(v.lineage["params"]) == {"lr": 0.1, "objective": "binary"} and v.lineage["environment"]["python"] == "3.10"
    )
    code, out, err = run("merge", "1", "--as", "pat")
    assert code == 0 and out.startswith("merged #1 as ")
    code, out, err = run("promote", "fraud-detector", "4", "--alias", "champion", "--as", "alice")
    assert code == 0 and "fraud-detector@champion: 2 -> 4 (promotion)" in out
    code, out, err = run("merge", "2", "--as", "dave")
    assert code == 1 and "0 of 2 required approvals" in out and "cannot be merged" in err
    assert (
        run("review", "2", "--approve", "--as", "dave")[1]
        == f"#2: dave approved on {repo.rev('mlgate/promote-fraud-detector-champion-v4')[:12]}\n"
    )
    run("review", "2", "--approve", "--as", "erin")
    assert run("merge", "2", "--as", "dave")[0] == 0
    code, out, err = run("rollback", "fraud-detector", "--alias", "champion", "--as", "oncall", "--json")
    assert code == 0 and '"kind": "rollback"' in out
    code, _, err = run("review", "3", "--as", "dave")
    assert code == 2 and "--approve, --request-changes or --comment" in err
    code, _, err = run("review", "9", "--approve", "--as", "dave")
    assert code == 2 and "no pull request #9 in the local forge; pull requests: 1, 2, 3" in err
    code, out, err = run("promote", "churn-predictor", "4", "--alias", "champion", "--as", "alice")
    assert code == 1 and "fails its gate (no regression auc)" in err and "auc regresses" in out


def test_rollback_to_a_version_the_alias_held_names_where_it_held_it(repo, forge) -> None:
    """`rollback --to` finds the commit where the alias last held the version and writes it in the commit
    message; the validator checks that claim (no history walk) and judges the pull request as a rollback."""
    first = repo.git.resolve("main")  # the champion holds v2 here
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    approve(forge, 1, "dave", "erin")
    merge_pull_request(repo.root, forge, 1, "dave")
    p = rollback(repo.root, "fraud-detector", "champion", author="oncall", to=2, forge=forge)
    assert f"Mlgate-Rollback-Held-At: {first}" in repo.git.git("log", "-1", "--format=%B", p.branch)
    assert (p.gate.kind, p.gate.from_version, p.gate.to_version) == ("rollback", 3, 2)
    approve(forge, 2, "mallory")  # the rollback gate: one approval
    merge_pull_request(repo.root, forge, 2, "mallory")
    assert Registry.open(repo.root, "main").resolve("models:/fraud-detector@champion").version.version == 2


def test_rollback_to_a_version_never_held_writes_no_claim(repo, forge) -> None:
    p = rollback(repo.root, "fraud-detector", "champion", author="oncall", to=1, forge=forge, force=True)
    assert "Mlgate-Rollback-Held-At" not in repo.git.git("log", "-1", "--format=%B", p.branch)
    assert p.gate.kind == "promotion"


def test_a_change_the_validator_rejects_moves_no_ref_and_opens_no_pull_request(repo, forge) -> None:
    """The one commit -> validate -> publish step every write path goes through: a commit the validator rejects
    is never published (a batch here, since it can write any file)."""
    from mlgate.change.batch import open_base
    from mlgate.change.batch import propose as propose_batch

    refs = repo.git.git("for-each-ref", "--format=%(refname) %(objectname)")
    worktree = _worktree(repo)
    champion = "registry/models/fraud-detector/aliases/champion.yaml"
    with pytest.raises(UsageError, match=r"Point champion at v99 would not pass validation: .*MG204"):
        propose_batch(
            open_base(repo.root, "main", "alice"),
            {champion: b"apiVersion: mlgate/v1\nkind: Alias\nmodel: fraud-detector\nalias: champion\nversion: 99\n"},
            branch="mlgate/import-bad",
            title="Point champion at v99",
            body="",
            author="alice",
            forge=forge,
        )
    assert repo.git.git("for-each-ref", "--format=%(refname) %(objectname)") == refs
    assert _worktree(repo) == worktree
    assert forge.list_pull_requests() == []
