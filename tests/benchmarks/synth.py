"""Synthetic registries for the benchmarks: M models x V versions with complete evidence, aliases, and a
history of P promotions merged as GitHub merges pull requests. Deterministic from a seed.

Written with ``git fast-import`` (one process, seconds for tens of thousands of commits) into a real
repository that mlgate then reads like any other.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class Synthetic:
    path: Path
    models: int
    versions: int
    promotions: int
    seed: int
    model_names: tuple[str, ...]
    champions: dict  # model -> version holding champion at the end


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def model_name(i: int) -> str:
    return f"model-{i:05d}"


def version_yaml(model: str, v: int) -> str:
    digest = _h(f"{model}/{v}/artifact")
    return f"""apiVersion: mlgate/v1
kind: ModelVersion
model: {model}
version: {v}
description: Synthetic version {v}.
created_at: '2026-01-01T00:00:00Z'
created_by: trainer
artifact:
  uri: s3://bench-models/sha256/{digest[:2]}/{digest}
  sha256: {digest}
  size: {1000 + v}
  format: onnx
lineage:
  run_id: run-{model}-{v}
  git_sha: {hashlib.sha1(f"{model}{v}".encode()).hexdigest()}
  code_repo: https://github.com/acme/{model}
  dataset:
    uri: s3://bench-data/{model}/{v}.parquet
    sha256: {_h(f"{model}/{v}/data")}
  params:
    learning_rate: 0.05
    max_depth: {4 + v % 5}
"""


def eval_yaml(model: str, v: int, auc: float) -> str:
    return f"""apiVersion: mlgate/v1
kind: EvalResult
model: {model}
version: {v}
dataset:
  name: holdout
  sha256: {_h(f"{model}/holdout")}
metrics:
  auc: {auc:.4f}
  latency_p99_ms: {20 + v % 7}
"""


CARD = """# Model card

## Intended use
Benchmarking.

## Training data
Synthetic.

## Evaluation
See eval.yaml.

## Limitations
None known.
"""

POLICY = """apiVersion: mlgate/v1
kind: Policy
admins: ["@acme/ml-platform"]
aliases:
  champion:
    evidence: [eval, card]
    metrics:
      auc: {min: 0.5}
    card_sections: [Intended use, Training data, Evaluation, Limitations]
    approvals: {min: 1}
  "*": {evidence: [eval], approvals: {min: 1}}
"""


def alias_yaml(model: str, alias: str, v: int) -> str:
    return f"apiVersion: mlgate/v1\nkind: Alias\nmodel: {model}\nalias: {alias}\nversion: {v}\n"


def model_yaml(model: str) -> str:
    return f'apiVersion: mlgate/v1\nkind: Model\nname: {model}\ndescription: Synthetic model {model}.\nowners: ["@acme/ml"]\n'


def auc(model: str, v: int) -> float:
    # strictly increasing with the version, so promoting a later version never regresses
    return 0.80 + 0.015 * v + (int(_h(model)[:2], 16) % 10) / 1000


class _Stream:
    """A fast-import stream written to git as it is made (a registry of 100,000 versions is never held whole in
    memory), with identical contents (the card, the policy) sent once as marked blobs."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None
        self.out = proc.stdin
        self.parts: list[bytes] = []
        self.size = 0

    def _add(self, raw: bytes) -> None:
        self.parts.append(raw)
        self.size += len(raw)
        if self.size >= 1 << 22:
            self.flush()

    def flush(self) -> None:
        self.out.write(b"".join(self.parts))
        self.parts.clear()
        self.size = 0

    def data(self, text: str) -> None:
        raw = text.encode()
        self._add(b"data %d\n" % len(raw) + raw + b"\n")

    def line(self, text: str) -> None:
        self._add(text.encode() + b"\n")

    def file(self, path: str, text: str) -> None:
        self.line(f"M 100644 inline {path}")
        self.data(text)

    def blob(self, mark: int, text: str) -> None:
        self.line("blob")
        self.line(f"mark :{mark}")
        self.data(text)

    def same(self, path: str, mark: int) -> None:
        self.line(f"M 100644 :{mark} {path}")


def build(
    path: Path, models: int, versions: int, promotions: int, seed: int = 0, *, light_branches: bool | None = None
) -> Synthetic:
    """Create the repository at ``path`` (which must not exist).

    ``light_branches`` (default: past 20,000 promotions): each pull request's own commit holds only the alias
    file it changes, not the whole registry, so git computes the large trees once per promotion (for the merge
    on main), not twice. No benchmark reads a pull request commit's tree (history walks main's first parents
    and reads the merged head's author and message), but a commit-graph with changed paths would diff them.
    """
    if light_branches is None:
        light_branches = promotions > 20_000
    rng = random.Random(seed)
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(path)], check=True)
    names = tuple(model_name(i) for i in range(models))
    proc = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"], cwd=path, stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    s = _Stream(proc)
    t = EPOCH
    card_mark = 1_000_000_000  # far above the commit marks
    s.blob(card_mark, CARD)
    s.line("commit refs/heads/main")
    s.line("mark :1")
    s.line(f"author Platform <platform@acme.test> {t} +0000")
    s.line(f"committer Platform <platform@acme.test> {t} +0000")
    s.data("Initial registry")
    s.file("registry/policy.yaml", POLICY)
    champions = {}
    for m in names:
        base = f"registry/models/{m}"
        s.file(f"{base}/model.yaml", model_yaml(m))
        for v in range(1, versions + 1):
            s.file(f"{base}/versions/{v}/version.yaml", version_yaml(m, v))
            s.file(f"{base}/versions/{v}/eval.yaml", eval_yaml(m, v, auc(m, v)))
            s.same(f"{base}/versions/{v}/card.md", card_mark)
        s.file(f"{base}/aliases/champion.yaml", alias_yaml(m, "champion", 1))
        s.file(f"{base}/aliases/challenger.yaml", alias_yaml(m, "challenger", min(2, versions)))
        champions[m] = 1
    main_mark = 1
    mark = 1
    people = ["alice", "bob", "dana", "erik", "farah"]
    for n in range(1, promotions + 1):
        m = names[rng.randrange(models)]
        current = champions[m]
        choices = [v for v in range(1, versions + 1) if v != current]
        v = rng.choice(choices) if choices else current
        champions[m] = v
        t += 60
        who = people[n % len(people)]
        alias_path = f"registry/models/{m}/aliases/champion.yaml"
        mark += 1
        s.line("commit refs/heads/bench-pr")
        s.line(f"mark :{mark}")
        s.line(f"author {who} <{who}@acme.test> {t} +0000")
        s.line(f"committer {who} <{who}@acme.test> {t} +0000")
        s.data(f"Promote {m} v{v} to champion")
        s.line(f"from :{main_mark}")
        if light_branches:
            s.line("deleteall")
        s.file(alias_path, alias_yaml(m, "champion", v))
        pr_mark = mark
        mark += 1
        s.line("commit refs/heads/main")
        s.line(f"mark :{mark}")
        s.line(f"author Reviewer <reviewer@acme.test> {t + 30} +0000")
        s.line(f"committer GitHub <noreply@github.com> {t + 30} +0000")
        s.data(f"Merge pull request #{n} from acme/promote-{m}-v{v}\n\nPromote {m} v{v} to champion")
        s.line(f"from :{main_mark}")
        s.line(f"merge :{pr_mark}")
        s.file(alias_path, alias_yaml(m, "champion", v))
        main_mark = mark
    s.line("reset refs/heads/bench-pr")
    s.line("from 0000000000000000000000000000000000000000")
    s.line("done")
    s.flush()
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.close()
    err = proc.stderr.read()
    proc.stderr.close()
    if proc.wait() != 0:
        raise RuntimeError(err.decode())
    subprocess.run(["git", "branch", "-D", "bench-pr"], cwd=path, capture_output=True)
    subprocess.run(["git", "checkout", "--quiet", "main"], cwd=path, check=True)
    return Synthetic(path, models, versions, promotions, seed, names, champions)
