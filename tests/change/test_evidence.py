"""Evidence without reading schemas: eval.yaml from --metric, `mlgate new card`, --lineage auto, the warnings
register gives before the pull request opens, and the eval file that names another model (B11)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from mlgate import Registry
from mlgate.change.evidence import public_url
from mlgate.change.propose import register
from mlgate.errors import InputError, UsageError
from mlgate.testing import DATASET_SHA256, TrainingRun, lineage
from mlgate.testing.training import CARD

HOLDOUT = b"id,label\n1,0\n2,1\n"


@pytest.fixture
def run(tmp_path: Path) -> TrainingRun:
    """A run good enough for fraud-detector@champion, with the bias audit its gate asks for."""
    return TrainingRun.write(
        tmp_path / "out", metrics={"auc": 0.93, "latency_p99_ms": 30}, evidence={"bias_audit": "# audit\nfine\n"}
    )


def _kwargs(run: TrainingRun, **kw: object) -> dict[str, object]:
    args: dict[str, object] = {**run.register_kwargs(), "author": "alice", **kw}
    if "metrics" in kw or "eval_dataset" in kw:
        args.pop("eval_file")
    if "card_text" in kw:
        args.pop("card_file")
    return args


def _cli_base(run: TrainingRun, *extra: str) -> list[str]:
    """`mlgate register fraud-detector` with everything but the evaluation."""
    args = [a for a in run.register_args("fraud-detector") if a != "--eval" and a != str(run.eval_file)]
    return [*args, "--as", "alice", *extra]


# --- eval.yaml from values ---------------------------------------------------------------------------------


def test_register_writes_eval_yaml_from_metrics_on_a_named_data_set(repo, forge, run, tmp_path: Path) -> None:
    holdout = tmp_path / "holdout.csv"
    holdout.write_bytes(HOLDOUT)
    p = register(
        repo.root,
        "fraud-detector",
        forge=forge,
        **_kwargs(run, metrics={"auc": 0.93, "latency_p99_ms": 31}, eval_dataset={"name": "holdout", "file": holdout}),
    )
    ev = Registry.open(repo.root, p.branch).eval("fraud-detector", 4)
    assert dict(ev.metrics) == {"auc": 0.93, "latency_p99_ms": 31}
    written = repo.git.git("show", f"{p.branch}:registry/models/fraud-detector/versions/4/eval.yaml")
    assert f"sha256: {hashlib.sha256(HOLDOUT).hexdigest()}" in written and "name: holdout" in written


def test_the_cli_takes_metrics_instead_of_an_eval_file(repo, forge, run, run_cli) -> None:
    code, out, err = run_cli(
        "-C",
        repo.root,
        *_cli_base(run, "--metric", "auc=0.93", "--metric", "latency_p99_ms=31", "--dataset-name", "holdout"),
        "--eval-dataset-sha256",
        DATASET_SHA256,
    )
    assert code == 0, err
    assert "pull request #1" in out
    text = repo.git.git("show", "mlgate/register-fraud-detector-v4:registry/models/fraud-detector/versions/4/eval.yaml")
    assert "auc: 0.93" in text and "latency_p99_ms: 31\n" in text and "model: fraud-detector" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--eval", "EVAL", "--metric", "auc=0.9"], "either as a file (--eval) or as --metric/--eval-dataset options"),
        (["--metric", "auc=high", "--eval-dataset", "h", "--eval-dataset-sha256", DATASET_SHA256], "auc=high"),
        (["--metric", "auc=nan", "--eval-dataset", "h", "--eval-dataset-sha256", DATASET_SHA256], "finite number"),
        (
            ["--metric", "auc=0.9"],
            "missing --eval-dataset NAME (or --eval FILE); --eval-dataset-sha256 DIGEST or --eval-dataset-file PATH",
        ),
        ([], "missing --eval FILE or --metric NAME=NUMBER"),
        (["--metric", "auc=0.9", "--eval-dataset", "h", "--eval-dataset-sha256", "12"], "eval.yaml would be invalid"),
    ],
    ids=["both", "not-a-number", "nan", "no-data-set", "no-evaluation", "bad-digest"],
)
def test_bad_evaluation_options_are_one_clear_usage_error(repo, forge, run, run_cli, extra, message) -> None:
    before = repo.status()
    extra = [str(run.eval_file) if a == "EVAL" else a for a in extra]
    code, _, err = run_cli("-C", repo.root, *_cli_base(run, *extra))
    assert code == 2 and message in err, err
    assert repo.status() == before and forge.list_pull_requests() == []


# --- B11: an eval written for another model or version ---------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("model", "churn-predictor", "'fraud-detector'"), ("version", 3, "version 4"), ("kind", "ModelVersion", "")],
)
def test_an_eval_naming_another_model_or_version_is_refused(repo, forge, run, field, value, expected) -> None:
    text = run.eval_file.read_text()
    run.eval_file.write_text(f"{field}: {value}\n{text}")
    before = repo.status()
    with pytest.raises(InputError, match=rf"{field} is '?{value}'? but .*{expected}.*MG202") as e:
        register(repo.root, "fraud-detector", forge=forge, **_kwargs(run))
    assert e.value.path == str(run.eval_file)
    assert repo.status() == before and forge.list_pull_requests() == []


def test_an_eval_that_names_this_model_and_version_is_taken(repo, forge, run) -> None:
    run.eval_file.write_text(f"apiVersion: mlgate/v1\nmodel: fraud-detector\nversion: 4\n{run.eval_file.read_text()}")
    p = register(repo.root, "fraud-detector", forge=forge, **_kwargs(run))
    assert Registry.open(repo.root, p.branch).eval("fraud-detector", 4).metrics["auc"] == 0.93


# --- the card, and what the policy's gates will miss -------------------------------------------------------------


def test_register_warns_before_the_pr_opens_when_the_card_lacks_a_champion_section(repo, forge, run) -> None:
    seen: list[tuple[str, int]] = []
    card = CARD.replace("## Limitations\nx\n", "## Limitations\n\n<!-- todo -->\n").replace("## Evaluation\nx\n", "")
    p = register(
        repo.root,
        "fraud-detector",
        forge=forge,
        on_warning=lambda text: seen.append((text, len(forge.list_pull_requests()))),
        **_kwargs(run, card_text=card, evidence={}),
    )
    assert p.pr.number == 1  # a warning, not a refusal
    (warning,) = [w for w in p.warnings if "promoted" in w]
    assert (warning, 0) in seen  # told before the pull request existed
    assert warning.startswith("fraud-detector v4 could never be promoted to champion: card.md has no section ")
    assert "'Evaluation'" in warning and "section 'Limitations' shows no text" in warning
    assert "no evidence 'bias_audit' (--evidence NAME=FILE)" in warning and "immutable" in warning


def test_a_complete_registration_has_no_warnings(repo, forge, run, tmp_path: Path) -> None:
    p = register(repo.root, "fraud-detector", forge=forge, store=str(tmp_path / "store"), **_kwargs(run))
    assert p.warnings == ()


def test_the_cli_prints_the_warnings_on_stderr(repo, forge, run, run_cli) -> None:
    run.card_file.write_text("# Card\n\n## Intended use\nx\n")
    code, out, err = run_cli("-C", repo.root, *run.register_args("fraud-detector"), "--as", "alice")
    assert code == 0 and "pull request #1" in out
    assert "mlgate: warning: fraud-detector v4 could never be promoted to champion: card.md has no section" in err
    assert "only machines with that path can read: pass --store" in err


def test_new_card_writes_the_sections_the_policy_requires_and_never_overwrites(repo, run_cli, tmp_path: Path) -> None:
    out = tmp_path / "card.md"
    code, stdout, err = run_cli(
        "-C", repo.root, "new", "card", "--model", "fraud-detector", "--alias", "champion", "-o", out
    )
    assert code == 0, err
    assert "champion: Intended use, Training data, Evaluation, Limitations" in stdout
    text = out.read_text()
    for section in ("Intended use", "Training data", "Evaluation", "Limitations"):
        assert f"\n## {section}\n" in text
    out.write_text("mine")
    code, _, err = run_cli("-C", repo.root, "new", "card", "-o", out)
    assert code == 2 and "already exists: mlgate never overwrites it" in err
    assert out.read_text() == "mine"


def test_a_card_skeleton_left_unfilled_is_flagged_at_register(repo, forge, run, run_cli, tmp_path: Path) -> None:
    code, skeleton, _ = run_cli("-C", repo.root, "new", "card", "--model", "fraud-detector", "-o", "-")
    assert code == 0
    p = register(repo.root, "fraud-detector", forge=forge, **_kwargs(run, card_text=skeleton))
    assert any(
        "section 'Intended use', 'Training data', 'Evaluation', 'Limitations' shows no text" in w for w in p.warnings
    )


def test_new_card_follows_a_model_that_tightens_the_policy(repo, run_cli) -> None:
    repo.edit_yaml(
        "registry/models/fraud-detector/model.yaml",
        policy={"aliases": {"champion": {"card_sections": ["Fairness"]}}},
    )
    repo.commit("fraud-detector asks for a fairness section")
    code, text, _ = run_cli(
        "-C", repo.root, "new", "card", "--model", "fraud-detector", "--alias", "champion", "-o", "-"
    )
    assert code == 0 and "\n## Fairness\n" in text and "Limitations, Fairness" in text


# --- lineage from the training checkout ---------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The training code's checkout, cloned from a URL that carries a token."""
    code = tmp_path / "train"
    code.mkdir()
    _git(code, "init", "-q")
    (code / "train.py").write_text("print('train')\n")
    _git(code, "add", "-A")
    _git(code, "commit", "-qm", "train")
    _git(code, "remote", "add", "origin", "https://alice:ghp_secret@github.com/acme/train.git")
    return code


def test_lineage_auto_fills_the_commit_and_the_repository_without_credentials(
    repo, forge, run, run_cli, checkout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(checkout)
    args = [a for a in run.register_args("fraud-detector") if a not in ("--git-sha", "c" * 40)]
    args = [a for a in args if a not in ("--code-repo", "https://github.com/acme/models")]
    code, _, err = run_cli(
        "-C", repo.root, *args, "--lineage", "auto", "--as", "alice", "--store", checkout.parent / "s"
    )
    assert code == 0, err
    line = Registry.open(repo.root, "mlgate/register-fraud-detector-v4").version("fraud-detector", 4).lineage
    assert line["git_sha"] == _git(checkout, "rev-parse", "HEAD")
    assert line["code_repo"] == "https://github.com/acme/train.git"
    assert "warning" not in err


def test_lineage_auto_warns_about_a_dirty_checkout_and_explicit_options_win(repo, forge, run, checkout) -> None:
    (checkout / "train.py").write_text("print('changed')\n")
    p = register(
        repo.root,
        "fraud-detector",
        forge=forge,
        lineage_from=checkout,
        **_kwargs(run, lineage={k: v for k, v in lineage().items() if k != "git_sha"}),
    )
    line = Registry.open(repo.root, p.branch).version("fraud-detector", 4).lineage
    assert line["code_repo"] == "https://github.com/acme/models"  # given: kept
    assert line["git_sha"] == _git(checkout, "rev-parse", "HEAD")
    assert any(f"{checkout} has uncommitted changes" in w for w in p.warnings)


def test_lineage_auto_from_a_checkout_without_a_remote_says_so(repo, forge, run, checkout) -> None:
    _git(checkout, "remote", "remove", "origin")
    line = {k: v for k, v in lineage().items() if k not in ("git_sha", "code_repo")}
    with pytest.raises(UsageError, match=rf"missing --code-repo \({checkout} has no remote to take it from\)\Z"):
        register(repo.root, "fraud-detector", forge=forge, lineage_from=checkout, **_kwargs(run, lineage=line))


def test_lineage_auto_outside_a_checkout_is_a_usage_error(repo, forge, run, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--lineage auto: .* is not inside a git repository"):
        register(repo.root, "fraud-detector", forge=forge, lineage_from=tmp_path, **_kwargs(run))


@pytest.mark.parametrize(
    ("url", "recorded"),
    [
        ("https://x-access-token:ghp_1@github.com/acme/t.git", "https://github.com/acme/t.git"),
        ("https://ghp_1@github.example.com:8443/acme/t", "https://github.example.com:8443/acme/t"),
        ("git@github.com:acme/t.git", "ssh://github.com/acme/t.git"),
        ("ssh://git@github.com/acme/t.git", "ssh://github.com/acme/t.git"),
    ],
)
def test_remote_urls_are_recorded_without_credentials(url: str, recorded: str) -> None:
    assert public_url(url) == recorded
