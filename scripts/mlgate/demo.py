"""``mlgate demo``: the whole promotion cycle on a throwaway repository with the local forge.

register v1 and v2 -> promote v1 (approved, merged) -> promote v2 (merge refused:
one approval short) -> second approval -> merged -> resolve -> roll back by
revert -> resolve again -> the audit trail. Every step is printed as the
command a user would type and what it shows.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from mlgate.audit.history import history
from mlgate.change.propose import merge_pull_request, promote, register, rollback
from mlgate.change.scaffold import scaffold
from mlgate.check.run import validate_repo
from mlgate.core import layout
from mlgate.errors import EXIT_CHECK_FAILED, EXIT_OK, MergeRefused, UsageError
from mlgate.forge.local import LocalForge
from mlgate.infra.git import GitRepo
from mlgate.infra.yamlio import dump, load
from mlgate.registry.snapshot import Registry
from mlgate.render.report import gate_text, history_text, report_text, resolved_text

Echo = Callable[[str], None]

TEAMS = {"@demo/ml-leads": ["dave", "erin"], "@demo/platform": ["pat"]}
# The demo never runs its workflows: a well-formed placeholder pin, so that it works from any install.
DEMO_REQUIREMENT = "mlgate @ git+https://github.com/demo/mlgate@" + "0" * 40
METRICS = {1: {"auc": 0.912, "latency_p99_ms": 31.0}, 2: {"auc": 0.931, "latency_p99_ms": 29.5}}


def run_demo(keep: str | None = None, echo: Echo = print) -> int:
    """Run the cycle in ``keep`` (a new folder) or a temporary one; 0 when every step behaved as expected."""
    if keep is not None and Path(keep).exists():
        raise UsageError(f"{keep} already exists; --keep needs a new folder")
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="mlgate-demo-"))
    tmp = None if keep else root
    try:
        return _Demo(root, echo).run()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


class _Demo:
    def __init__(self, root: Path, echo: Echo) -> None:
        self.root = root
        self.repo = root / "registry-repo"
        self.work = root / "training-output"
        self.echo = echo
        self.unexpected: list[str] = []

    def step(self, title: str) -> None:
        self.echo(f"\n== {title}")

    def cmd(self, line: str) -> None:
        self.echo(f"$ {line}")

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.unexpected.append(what)
            self.echo(f"!! unexpected: {what}")

    def run(self) -> int:
        self.setup()
        forge = LocalForge(self.repo)
        for team, members in TEAMS.items():
            forge.set_team(team, members)

        self.step("alice registers two versions of fraud-detector; each registration is a pull request")
        for v in (1, 2):
            files = self.training_output(v)
            self.cmd(
                f"mlgate register fraud-detector --artifact model-v{v}.onnx --eval eval-v{v}.yaml --card card-v{v}.md "
                f"--run-id run-{v} ... --as alice"
            )
            p = register(
                self.repo,
                "fraud-detector",
                artifact=str(files["artifact"]),
                eval_file=str(files["eval"]),
                card_file=str(files["card"]),
                author="alice",
                lineage=self.lineage(v),
                description=f"Gradient-boosted trees, training run {v}.",
                model_description="Scores card transactions for fraud risk." if v == 1 else None,
                owners=("@demo/ml-leads",) if v == 1 else (),
                forge=forge,
            )
            self.echo(f'opened #{p.pr.number} "{p.title}" from {p.branch}')
            self.cmd(f"mlgate merge {p.pr.number} --as pat")
            sha = self.merge(forge, p.pr.number, "pat")
            self.expect(sha is not None, f"registration #{p.pr.number} should merge")

        self.step("alice asks for v1 to become champion; the PR description is the gate report")
        self.cmd("mlgate promote fraud-detector 1 --alias champion --as alice")
        p = promote(self.repo, "fraud-detector", 1, "champion", author="alice", forge=forge)
        self.echo(gate_text(p.gate).rstrip())
        self.echo(f'opened #{p.pr.number} "{p.title}"')
        for reviewer in ("dave", "carol"):
            self.cmd(f"mlgate review {p.pr.number} --approve --as {reviewer}")
            forge.review(p.pr.number, reviewer, "APPROVED")
        self.cmd(f"mlgate merge {p.pr.number} --as dave")
        self.expect(self.merge(forge, p.pr.number, "dave") is not None, "the v1 promotion should merge")

        self.step("v2 is better: alice promotes it; one approval is not enough for champion")
        self.cmd("mlgate promote fraud-detector 2 --alias champion --as alice")
        p = promote(self.repo, "fraud-detector", 2, "champion", author="alice", forge=forge)
        self.echo(gate_text(p.gate).rstrip())
        self.echo(f'opened #{p.pr.number} "{p.title}"')
        self.cmd(f"mlgate review {p.pr.number} --approve --as dave")
        forge.review(p.pr.number, "dave", "APPROVED")
        self.cmd(f"mlgate review {p.pr.number} --approve --as alice    # the author's own approval never counts")
        forge.review(p.pr.number, "alice", "APPROVED")
        self.cmd(f"mlgate merge {p.pr.number} --as dave")
        self.expect(self.merge(forge, p.pr.number, "dave") is None, "the merge should be refused with one approval")
        self.cmd(f"mlgate review {p.pr.number} --approve --as erin")
        forge.review(p.pr.number, "erin", "APPROVED")
        self.cmd(f"mlgate merge {p.pr.number} --as dave")
        self.expect(
            self.merge(forge, p.pr.number, "dave") is not None, "the v2 promotion should merge with two approvals"
        )

        self.step("Serving resolves the champion from main")
        self.cmd("mlgate resolve models:/fraud-detector@champion --ref main")
        resolved = Registry.open(self.repo, "main").resolve("models:/fraud-detector@champion")
        self.echo(resolved_text(resolved.to_dict()).rstrip())
        self.expect(resolved.version.version == 2, "champion should be v2")

        self.step("Something is wrong in production: on-call rolls back by reverting the promotion")
        self.cmd("mlgate rollback fraud-detector --alias champion --as oncall")
        p = rollback(self.repo, "fraud-detector", "champion", author="oncall", forge=forge)
        self.echo(gate_text(p.gate).rstrip())
        self.echo(f'opened #{p.pr.number} "{p.title}"')
        self.expect(p.gate is not None and p.gate.kind == "rollback", "the revert should be judged as a rollback")
        self.cmd(f"mlgate review {p.pr.number} --approve --as erin    # the rollback gate needs one approval")
        forge.review(p.pr.number, "erin", "APPROVED")
        self.cmd(f"mlgate merge {p.pr.number} --as erin")
        self.expect(self.merge(forge, p.pr.number, "erin") is not None, "the rollback should merge")
        self.cmd("mlgate resolve models:/fraud-detector@champion --ref main")
        resolved = Registry.open(self.repo, "main").resolve("models:/fraud-detector@champion")
        self.echo(resolved_text(resolved.to_dict()).rstrip())
        self.expect(resolved.version.version == 1, "champion should be back on v1")

        self.step("The audit trail: who changed what, when, merged and approved by whom")
        self.cmd("mlgate history --forge local")
        trail = history(self.repo, ref="main", forge=forge)
        self.echo(history_text([e.to_dict() for e in trail.events], "main").rstrip())
        kinds = [e.kind for e in trail.events]
        self.expect(
            kinds[:3] == ["rollback", "promotion", "promotion"], "history should end with promote, promote, rollback"
        )
        self.expect(all(e.approvers is not None for e in trail.events), "the local forge should name every approver")

        self.step("Done")
        if self.unexpected:
            self.echo("The demo did not behave as expected: " + "; ".join(self.unexpected))
            return EXIT_CHECK_FAILED
        self.echo(
            f"Every promotion was gated, reviewed, merged and reversible; the repository is in {self.repo}"
            if not str(self.root).startswith(tempfile.gettempdir())
            else "Every promotion was gated, reviewed, merged and reversible. (mlgate demo --keep DIR keeps the repository.)"
        )
        return EXIT_OK

    def merge(self, forge: LocalForge, number: int, who: str) -> str | None:
        try:
            sha, _ = merge_pull_request(self.repo, forge, number, who)
        except MergeRefused as e:
            self.echo(report_text(e.report).rstrip())
            self.echo(f"mlgate: error: {e}")
            return None
        self.echo(f"merged #{number} as {sha[:12]}")
        return sha

    def setup(self) -> None:
        self.step(f"A new registry repository, set up with mlgate init, in {self.repo}")
        git = GitRepo.init(self.repo)
        (self.repo / "README.md").write_text("# Acme model registry\n")
        self.cmd(
            f"mlgate init --admin @demo/platform --reviewer @demo/ml-leads --reviewer carol "
            f"--mlgate-requirement '{DEMO_REQUIREMENT}'"
        )
        for path in scaffold(
            self.repo, admins=("@demo/platform",), reviewers=("@demo/ml-leads", "carol"), requirement=DEMO_REQUIREMENT
        ):
            self.echo(f"created {path}")
        policy_path = self.repo / layout.POLICY
        policy = load(policy_path.read_bytes(), layout.POLICY).data
        policy["aliases"]["champion"]["metrics"] = {
            "auc": {"min": 0.9, "no_regression": 0.005},
            "latency_p99_ms": {"max": 50},
        }
        policy_path.write_text(dump(policy))
        self.echo(
            "(policy: champion needs auc >= 0.9 without regressing, p99 latency <= 50 ms, a full model card, "
            "and 2 approvals from @demo/ml-leads or carol; a rollback needs 1)"
        )
        git.commit_all("Set up mlgate", author="pat <pat@demo.invalid>")
        git.close()
        self.cmd("mlgate validate")
        report = validate_repo(self.repo)
        self.echo(report_text(report).rstrip())
        self.expect(report.ok, "the new registry should validate")

    def training_output(self, v: int) -> dict[str, Path]:
        self.work.mkdir(parents=True, exist_ok=True)
        artifact = self.work / f"model-v{v}.onnx"
        artifact.write_bytes(hashlib.sha256(f"weights {v}".encode()).digest() * 512)
        ev = self.work / f"eval-v{v}.yaml"
        ev.write_text(
            dump(
                {
                    "dataset": {"name": "holdout 2026-Q3", "sha256": hashlib.sha256(b"holdout").hexdigest()},
                    "metrics": METRICS[v],
                }
            )
        )
        card = self.work / f"card-v{v}.md"
        card.write_text(
            f"# fraud-detector v{v}\n\n## Intended use\nRanks transactions for analyst review.\n\n"
            f"## Training data\nSix months of labelled transactions.\n\n## Evaluation\nauc {METRICS[v]['auc']} "
            f"on the Q3 holdout.\n\n## Limitations\nNot validated on new markets.\n"
        )
        return {"artifact": artifact, "eval": ev, "card": card}

    @staticmethod
    def lineage(v: int) -> dict[str, Any]:
        return {
            "run_id": f"run-{v}",
            "git_sha": hashlib.sha1(f"code {v}".encode()).hexdigest(),
            "code_repo": "https://github.com/acme/fraud-models",
            "dataset": {"uri": "s3://acme-data/fraud/2026-q3.parquet", "sha256": hashlib.sha256(b"data").hexdigest()},
            "params": {"max_depth": 6, "learning_rate": 0.05},
        }
