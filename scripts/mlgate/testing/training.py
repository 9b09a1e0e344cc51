"""What a training run hands to ``mlgate register``: an artifact, ``eval.yaml``, ``card.md`` and evidence files,
written into a folder, with the lineage a registration needs, as library keywords or as command-line arguments.

>>> run = TrainingRun.write(tmp_path / "run-1", metrics={"auc": 0.93, "latency_p99_ms": 30})
>>> register(repo.root, "fraud-detector", author="alice", forge=forge, **run.register_kwargs())
>>> main(["-C", str(repo.root), *run.register_args("fraud-detector"), "--as", "alice"])
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: a well-formed sha256 (of ``b"data"``) for the data sets examples and tests name
DATASET_SHA256 = hashlib.sha256(b"data").hexdigest()

#: a model card with every section the example registry's champion gate asks for
CARD = "# Model card\n\n## Intended use\nx\n\n## Training data\nx\n\n## Evaluation\nx\n\n## Limitations\nx\n"


def lineage(**fields: Any) -> dict[str, Any]:
    """A complete lineage for a registration (run, code commit, code repository, data set); ``fields`` replace
    or add keys, e.g. ``params={"lr": 0.1}`` or ``environment={"python": "3.11"}``."""
    return {
        "run_id": "run-1",
        "git_sha": "c" * 40,
        "code_repo": "https://github.com/acme/models",
        "dataset": {"uri": "s3://acme-data/train.parquet", "sha256": DATASET_SHA256},
        **fields,
    }


@dataclass(frozen=True)
class TrainingRun:
    """The files of one training run, ready to register. Change them freely before registering: they are
    plain files in the folder :meth:`write` made."""

    artifact: Path
    eval_file: Path
    card_file: Path
    #: evidence name (as the policy names it, e.g. ``bias_audit``) -> its file
    evidence: Mapping[str, Path] = field(default_factory=dict)

    @classmethod
    def write(
        cls,
        folder: str | Path,
        *,
        artifact: bytes = b"weights" * 128,
        artifact_name: str = "model.bin",
        metrics: Mapping[str, float] | None = None,
        dataset: str = "holdout",
        card: str = CARD,
        evidence: Mapping[str, str] | None = None,
    ) -> TrainingRun:
        """Write the run's files into ``folder`` (created if needed): the ``artifact`` bytes as
        ``artifact_name``, an ``eval.yaml`` with ``metrics`` (default ``auc: 0.95``) on ``dataset``, ``card``
        as ``card.md``, and each ``evidence`` text as ``<name with - for _>.md``."""
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        (root / artifact_name).write_bytes(artifact)
        shown = ", ".join(f"{k}: {v}" for k, v in (metrics if metrics is not None else {"auc": 0.95}).items())
        (root / "eval.yaml").write_text(
            f"dataset: {{name: {dataset}, sha256: {DATASET_SHA256}}}\nmetrics: {{{shown}}}\n"
        )
        (root / "card.md").write_text(card)
        files = {}
        for name, text in (evidence or {}).items():
            files[name] = root / f"{name.replace('_', '-')}.md"
            files[name].write_text(text)
        return cls(root / artifact_name, root / "eval.yaml", root / "card.md", files)

    def register_kwargs(self, **lineage_fields: Any) -> dict[str, Any]:
        """Keywords for :func:`mlgate.change.propose.register` (besides the model, ``author`` and ``forge``),
        with a complete :func:`lineage` whose keys ``lineage_fields`` replace."""
        return {
            "artifact": str(self.artifact),
            "eval_file": str(self.eval_file),
            "card_file": str(self.card_file),
            "evidence": {name: str(path) for name, path in self.evidence.items()},
            "lineage": lineage(**lineage_fields),
        }

    def register_args(self, model: str, **lineage_fields: Any) -> list[str]:
        """``mlgate register MODEL ...`` as command-line arguments (add ``--as``, ``--no-pr`` ...), with the same
        lineage as :meth:`register_kwargs`."""
        line = lineage(**lineage_fields)
        args = ["register", model, "--artifact", str(self.artifact), "--eval", str(self.eval_file)]
        args += ["--card", str(self.card_file)]
        for name, path in self.evidence.items():
            args += ["--evidence", f"{name}={path}"]
        args += ["--run-id", line["run_id"], "--git-sha", line["git_sha"], "--code-repo", line["code_repo"]]
        args += ["--dataset-uri", line["dataset"]["uri"], "--dataset-sha256", line["dataset"]["sha256"]]
        for key, value in line.get("params", {}).items():
            args += ["--param", f"{key}={value}"]
        for key, value in line.get("environment", {}).items():
            args += ["--env", f"{key}={value}"]
        return args
