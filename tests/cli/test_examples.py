"""Every example in every command's --help runs, as printed, in a shell on a registry set up like the README's.

The playground is the example registry (``registry/``) in a real git repository with a bare ``origin``, the
local forge with the example teams, a few open pull requests, a hand-made branch ``pr-42`` and the files a
training run leaves (``model.onnx``, ``eval.yaml``, ``card.md``, ``audit.md``). Each example runs in its own
copy of it, through ``bash -c`` (so ``$(git rev-parse HEAD)`` is the shell's), and must exit 0, or the code its
trailing comment names (``# ... exit 1``). The examples that need GitHub run against the stand-in in the tests
of their command, and are listed here with where.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from mlgate.change.propose import promote, register
from mlgate.cli import cli
from mlgate.cli.helptext import commands_of
from mlgate.infra.resources import example_registry_dir
from mlgate.testing.forge import approve, local_forge
from mlgate.testing.repo import RegistryRepo
from mlgate.testing.training import CARD, TrainingRun

#: examples run elsewhere, against the GitHub stand-in or by hand, and why
ELSEWHERE = {
    "pip install": "installs mlgate itself",
    "mlgate init --admin @acme/ml-platform --reviewer": "pins the installed mlgate, which needs a release or a git "
    "install, not this editable checkout (tests/change/test_scaffold.py runs init with a pin)",
    "mlgate verify": "reads the example registry's artifacts from s3://acme-models on AWS (tests/s3 runs verify "
    "against moto's S3 server, tests/registry on local stores)",
    "-o s3://": "writes the index to S3 on AWS: tests/s3/test_index_upload.py runs it against moto's S3 server",
    "mlgate import mlflow": "needs an MLflow tracking server or database: tests/interop/importers/test_mlflow.py "
    "runs the import against a real MLflow SQLite registry",
    "--forge github": "needs GitHub: the stand-in runs it in the command's own tests (tests/check/test_doctor.py, "
    "tests/forge/)",
}


def _examples() -> dict[str, list[str]]:
    """Each command's example lines, in the order its help prints them."""
    found: dict[str, list[str]] = {"mlgate": commands_of(getattr(cli, "examples", []))}

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        for name, command in sorted(group.commands.items()):
            if isinstance(command, click.Group):
                walk(command, (*path, name))
            found[" ".join((*path, name))] = commands_of(getattr(command, "examples", []))

    walk(cli, ())
    return found


EXAMPLES = _examples()
CHAMPION = "registry/models/fraud-detector/aliases/champion.yaml"
#: the online evidence of the canary the playground has under way (search-ranker v2 on champion)
ONLINE = {
    "apiVersion": "mlgate/v1",
    "kind": "OnlineEvaluation",
    "model": "search-ranker",
    "alias": "champion",
    "candidate": 2,
    "holder": 1,
    "mode": "canary",
    "percent": 5,
    "window": {"start": "2026-07-02T09:00:00Z", "end": "2026-07-03T09:00:00Z"},
    "requests": {"candidate": 12000, "holder": 228000},
    "metrics": {"candidate": {"ndcg_at_10": 0.52}, "holder": {"ndcg_at_10": 0.5}},
    "source": "https://grafana.example/d/ranker-canary",
}


@pytest.fixture(scope="module")
def playground(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example registry with a history (fraud-detector's champion was v1 from late May, v2 since July), a
    bare origin, four open pull requests (1, 3 and 4 approved by dave), a hand-made branch and a training run's files."""
    root = tmp_path_factory.mktemp("examples") / "registry"
    repo = RegistryRepo.create(root, example=False)
    shutil.copytree(example_registry_dir(), root / "registry")
    repo.edit_yaml(CHAMPION, version=1, note="First champion.")
    repo.commit("Initial registry", date="2026-05-25T09:00:00Z")
    repo.edit_yaml(CHAMPION, version=2, note="Promoted after the May shadow run.")
    repo.commit("Promote fraud-detector v2 to champion", date="2026-07-01T09:00:00Z")
    # the rollout examples use the example registry's own canary: search-ranker v2 on champion at 5%, with evidence
    repo.add_origin(root.parent / "origin.git")
    repo.git.git("fetch", "--quiet", "origin")
    forge = local_forge(root)
    run = TrainingRun.write(root.parent / "run", metrics={"auc": 0.95, "latency_p99_ms": 30})
    register(root, "churn-predictor", author="alice", forge=forge, **run.register_kwargs())
    for model, version in (("fraud-detector", 3), ("churn-predictor", 3), ("search-ranker", 1)):
        promote(root, model, version, "shadow", author="alice", forge=forge)
    approve(forge, 1, "dave")
    approve(forge, 3, "dave")
    approve(forge, 4, "dave")
    repo.branch("pr-42")
    repo.edit_yaml("registry/models/search-ranker/aliases/challenger.yaml", note="hand edit")
    repo.commit("A hand-made change")
    repo.switch("main")
    repo.branch("edit-policy")
    policy = (root / "registry/policy.yaml").read_text()
    repo.write("registry/policy.yaml", policy.replace("auc: {min: 0.85", "auc: {min: 0.86"))
    repo.commit("Tighten the champion gate", author="pat <pat@example.com>")
    repo.switch("main")
    files = {"model.onnx": "onnx bytes", "card.md": CARD, "audit.md": "# Bias audit\nfine\n"}
    files |= {name: f"{name} rows" for name in ("holdout.parquet", "train.parquet", "clicks.parquet")}
    for name, text in files.items():
        (root / name).write_text(text)
    shutil.copy(run.eval_file, root / "eval.yaml")
    measured = {k: ONLINE[k] for k in ("window", "requests", "metrics", "source")}
    (root / "canary-metrics.json").write_text(json.dumps(measured))
    return root


def _expected(line: str) -> int:
    m = re.search(r"#.*\bexit (\d)\b", line)
    return int(m.group(1)) if m else 0


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_the_examples_run(command: str, playground: Path, tmp_path: Path) -> None:
    """The command's examples, one after the other in one copy of the playground (a later one may use what an
    earlier one made, as a reader following the help would)."""
    assert EXAMPLES[command], f"`{command} --help` has no example"
    where = tmp_path / "registry"
    shutil.copytree(playground, where, symlinks=True)
    if command == "init":  # init sets up a repository that has no registry yet
        subprocess.run(["git", "-C", str(where), "rm", "-rq", "registry"], check=True)
        subprocess.run(["git", "-C", str(where), "commit", "-qm", "no registry yet"], check=True)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MLGATE_USER": "alice",
    }
    env.pop("MLGATE_FORGE", None)
    env["EDITOR"] = "sed -i s/0.85,/0.86,/"  # the one edit an example asks for: tighten the champion's auc bound
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"], env[f"GIT_{who}_EMAIL"] = "Alice", "alice@example.com"
    ran_any = False
    for line in EXAMPLES[command]:
        if any(marker in line for marker in ELSEWHERE):
            continue
        ran = subprocess.run(["bash", "-c", line], cwd=where, env=env, capture_output=True, text=True, timeout=120)
        assert "Traceback" not in ran.stderr and "internal error" not in ran.stderr, ran.stderr
        assert ran.returncode == _expected(line), f"`{line}` exited {ran.returncode}:\n{ran.stdout}\n{ran.stderr}"
        ran_any = True
    if not ran_any:
        pytest.skip(
            "; ".join(
                sorted({why for marker, why in ELSEWHERE.items() for line in EXAMPLES[command] if marker in line})
            )
        )
