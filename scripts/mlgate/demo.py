"""``mlgate demo``: the whole promotion cycle on a throwaway repository with the local forge.

register v1 and v2 -> promote v1 (approved, merged) -> promote v2 (merge refused:
one approval short) -> second approval -> merged -> resolve -> roll back by
revert -> resolve again; then the platform team requires canaries for champion
(a policy pull request the admins approve) -> v2 rolled out by canary: start at
5%, live evidence, a step to 25%, evidence, completion -> v3's canary shows a
live regression, its step is refused and it is aborted -> the audit trail.
Every step is printed as the command a user would type and what it shows.
"""

from __future__ import annotations

import hashlib
import json
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

TEAMS = {"@demo/ml-leads": ["dave", "erin"], "@demo/platform": ["pat", "quinn"]}
# The demo never runs its workflows: a well-formed placeholder pin, so that it works from any install.
DEMO_REQUIREMENT = "mlgate @ git+https://github.com/demo/mlgate@" + "0" * 40
METRICS = {
    1: {"auc": 0.912, "latency_p99_ms": 31.0},
    2: {"auc": 0.931, "latency_p99_ms": 29.5},
    3: {"auc": 0.936, "latency_p99_ms": 30.0},
}
#: the canary policy the platform team adds to champion half-way through the demo
CANARY_POLICY = {
    "steps": [5, 25],
    "online": {
        "min_requests": 10000,
        "min_hours": 24,
        "metrics": {"error_rate": {"max": 0.02, "no_regression": 0.002}},
    },
    "approvals": {"min": 1, "from": ["@demo/ml-leads"]},
}


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

        self.canary(forge)

        self.step("The audit trail: who changed what, when, merged and approved by whom")
        self.cmd("mlgate history --forge local")
        trail = history(self.repo, ref="main", forge=forge)
        self.echo(history_text([e.to_dict() for e in trail.events], "main").rstrip())
        kinds = [e.kind for e in trail.events]
        self.expect(
            "rollback" in kinds and kinds.count("promotion") >= 2, "history should show promotions and a rollback"
        )
        self.expect(
            {"rollout-start", "rollout-step", "rollout-complete", "rollout-abort"} <= set(kinds),
            "history should show the canaries' start, step, completion and abort",
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

    def canary(self, forge: LocalForge) -> None:
        """Canary rollouts on champion: one completed step by step on live evidence, one aborted."""
        from mlgate.change import rollout
        from mlgate.errors import GateFailed

        self.step("The platform team now requires a canary before a new champion; changing the policy needs them")
        self.cmd("git switch -c require-canary && $EDITOR registry/policy.yaml && git push   # quinn opens the PR")
        number = self.policy_pull_request(forge)
        self.cmd(f"mlgate review {number} --approve --as pat    # an admin of the base policy")
        forge.review(number, "pat", "APPROVED")
        self.cmd(f"mlgate merge {number} --as pat")
        self.expect(self.merge(forge, number, "pat") is not None, "the policy change should merge")
        self.echo(
            "(champion: a canary at 5% then 25%, each step on 24 h of live evidence with 10,000 requests, "
            "error_rate <= 2% and at most 0.2 points worse than the holder's)"
        )

        self.step("v2 goes out again, carefully: a canary at 5%, judged by champion's full offline gate")
        self.cmd("mlgate rollout start fraud-detector 2 --alias champion --canary 5 --as alice")
        p = rollout.start(
            self.repo, "fraud-detector", 2, "champion", mode="canary", percent=5, author="alice", forge=forge
        )
        self.echo(gate_text(p.gate).rstrip())
        self.approve_and_merge(forge, p.pr.number, ("dave", "erin"), "the canary start should merge")
        self.route_sample()

        for percent, nxt in ((5, 25), (25, None)):
            self.step(f"Monitoring reports a day of live metrics at {percent}%; the evidence is a pull request too")
            evidence = self.live_evidence(percent, candidate_error=0.011)
            self.cmd(f"mlgate rollout evidence fraud-detector --alias champion --from {evidence.name} --as monitor")
            p = rollout.evidence(
                self.repo, "fraud-detector", "champion", source=str(evidence), author="monitor", forge=forge
            )
            self.approve_and_merge(forge, p.pr.number, ("dave",), f"the evidence at {percent}% should merge")
            if nxt is not None:
                self.cmd("mlgate rollout step fraud-detector --alias champion --as alice    # to the next step: 25%")
                p = rollout.step(self.repo, "fraud-detector", "champion", author="alice", forge=forge)
            else:
                self.cmd("mlgate rollout complete fraud-detector --alias champion --as alice")
                p = rollout.complete(self.repo, "fraud-detector", "champion", author="alice", forge=forge)
            self.echo(gate_text(p.gate).rstrip())
            self.approve_and_merge(
                forge, p.pr.number, ("dave",), f"the rollout {'step' if nxt else 'completion'} should merge"
            )
        resolved = Registry.open(self.repo, "main").resolve("models:/fraud-detector@champion")
        self.cmd("mlgate resolve models:/fraud-detector@champion --ref main")
        self.echo(resolved_text(resolved.to_dict()).rstrip())
        self.expect(resolved.version.version == 2, "champion should be v2 after the completed canary")

        self.step("v3 looks better offline; its canary shows a live regression, so its step is refused")
        files = self.training_output(3)
        self.cmd("mlgate register fraud-detector --artifact model-v3.onnx ... --as alice")
        p = register(
            self.repo,
            "fraud-detector",
            artifact=str(files["artifact"]),
            eval_file=str(files["eval"]),
            card_file=str(files["card"]),
            author="alice",
            lineage=self.lineage(3),
            description="Gradient-boosted trees, training run 3.",
            forge=forge,
        )
        self.expect(self.merge(forge, p.pr.number, "pat") is not None, "the v3 registration should merge")
        self.cmd("mlgate rollout start fraud-detector 3 --alias champion --canary 5 --as alice")
        p = rollout.start(
            self.repo, "fraud-detector", 3, "champion", mode="canary", percent=5, author="alice", forge=forge
        )
        self.approve_and_merge(forge, p.pr.number, ("dave", "erin"), "v3's canary start should merge")
        evidence = self.live_evidence(5, candidate_error=0.031)
        self.cmd(f"mlgate rollout evidence fraud-detector --alias champion --from {evidence.name} --as monitor")
        p = rollout.evidence(
            self.repo, "fraud-detector", "champion", source=str(evidence), author="monitor", forge=forge
        )
        self.approve_and_merge(forge, p.pr.number, ("dave",), "v3's evidence should merge")
        self.cmd("mlgate rollout step fraud-detector --alias champion --as alice")
        try:
            rollout.step(self.repo, "fraud-detector", "champion", author="alice", forge=forge)
            self.expect(False, "the step on a live regression should be refused")
        except GateFailed as e:
            self.echo(gate_text(e.change).rstrip())
            self.echo(f"mlgate: error: {e}")
        self.cmd("mlgate rollout abort fraud-detector --alias champion --as oncall    # the rollback gate: 1 approval")
        p = rollout.abort(self.repo, "fraud-detector", "champion", author="oncall", forge=forge)
        self.approve_and_merge(forge, p.pr.number, ("erin",), "the abort should merge")
        champion = Registry.open(self.repo, "main").aliases("fraud-detector")["champion"]
        self.expect(champion.version == 2 and champion.rollout is None, "v2 should serve everyone again")
        self.echo("champion: v2 for every request; v3's canary is over")

    def policy_pull_request(self, forge: LocalForge) -> int:
        git = GitRepo(self.repo)
        try:
            base = git.branch_sha("main")
            assert base is not None
            policy = load(git.tree(base).read(layout.POLICY), layout.POLICY).data
            policy["aliases"]["champion"]["rollout"] = CANARY_POLICY
            commit = git.write_commit(
                [base],
                {layout.POLICY: dump(policy).encode()},
                "Require a canary for champion\n",
                "quinn <quinn@demo.invalid>",
            )
            git.set_branch("require-canary", commit, None)
        finally:
            git.close()
        pr = forge.open_pull_request(
            title="Require a canary for champion",
            body="Every new champion goes out by canary: 5%, then 25%, each on a day of live evidence.",
            head="require-canary",
            base="main",
            labels=[],
            author="quinn",
        )
        self.echo(f'opened #{pr.number} "{pr.title}"')
        return pr.number

    def approve_and_merge(self, forge: LocalForge, number: int, reviewers: tuple[str, ...], what: str) -> None:
        self.echo(f"opened #{number}")
        for reviewer in reviewers:
            self.cmd(f"mlgate review {number} --approve --as {reviewer}")
            forge.review(number, reviewer, "APPROVED")
        self.cmd(f"mlgate merge {number} --as {reviewers[0]}")
        self.expect(self.merge(forge, number, reviewers[0]) is not None, what)

    def live_evidence(self, percent: int, *, candidate_error: float) -> Path:
        """What a monitoring job measured over a day at ``percent``: requests and live metrics per arm."""
        path = self.work / f"canary-{percent}-{candidate_error}.json"
        requests = 250_000 * percent // 100
        path.write_text(
            json.dumps(
                {
                    "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T02:00:00Z"},
                    "requests": {"candidate": requests, "holder": 250_000 - requests},
                    "metrics": {"candidate": {"error_rate": candidate_error}, "holder": {"error_rate": 0.012}},
                    "source": "https://grafana.demo.invalid/d/fraud-canary",
                },
                indent=2,
            )
        )
        return path

    def route_sample(self) -> None:
        """Serving during the canary: every replica routes a user to the same arm, about 5% to the candidate."""
        from mlgate import serving
        from mlgate.registry.index import build_index, write_index

        index = self.root / "index.json"
        write_index(build_index(self.repo, "main"), index)
        arms = serving.arms("models:/fraud-detector@champion", serving.open_source(index))
        users = [f"user-{i}" for i in range(10_000)]
        share = sum(arms.route(u).version == 2 for u in users) / len(users)
        self.cmd("python -c 'serving.arms(\"models:/fraud-detector@champion\", source).route(user_id)'")
        self.echo(
            f"user-1 -> v{arms.route('user-1').version}, user-2 -> v{arms.route('user-2').version}; "
            f"{share:.1%} of 10,000 users go to v2 (sticky across replicas and restarts)"
        )
        self.expect(abs(share - 0.05) < 0.01, "about 5% of users should be routed to the candidate")

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
