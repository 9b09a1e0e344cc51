"""Read-only registry API: URIs, look-ups, and errors that list what does exist."""

from __future__ import annotations

import pytest

from mlgate import Registry, parse_uri
from mlgate.errors import InputError, NotFoundError, UsageError
from mlgate.infra.git import GitRepo
from mlgate.registry.snapshot import ModelRef
from mlgate.testing import RegistryRepo


@pytest.mark.parametrize(
    ("uri", "ref"),
    [
        ("models:/fraud-detector@champion", ModelRef("fraud-detector", alias="champion")),
        ("models:/fraud-detector/3", ModelRef("fraud-detector", version=3)),
        ("models:/fraud-detector/Production", ModelRef("fraud-detector", stage="Production")),
        ("models:/fraud-detector/staging", ModelRef("fraud-detector", stage="Staging")),
        ("models:/x/03", ModelRef("x", version=3)),  # as MLflow reads it: digits are a version
        ("models:/x/Archived", ModelRef("x", stage="Archived")),
    ],
)
def test_parse_uri(uri: str, ref: ModelRef) -> None:
    assert parse_uri(uri) == ref
    assert str(parse_uri(str(ref))) == str(ref)


@pytest.mark.parametrize(
    "uri",
    [
        "fraud-detector@champion",
        "models:/fraud-detector",
        "models:/a/b/c",
        "models:/x@a@b",
    ],
)
def test_parse_uri_rejects(uri: str) -> None:
    with pytest.raises(UsageError):
        parse_uri(uri)


def test_resolve_from_a_ref_reads_git_objects_not_the_checkout(repo: RegistryRepo) -> None:
    repo.delete("registry")  # nothing on disk: the ref alone must do
    reg = Registry.open(repo.root, "main")
    resolved = reg.resolve("models:/churn-predictor@champion")
    assert resolved.version.version == 3
    assert resolved.commit == repo.rev("main")
    assert resolved.version.artifact.uri.startswith("s3://acme-models/sha256/")
    assert reg.eval("churn-predictor", 3).metrics["auc"] == 0.874


def test_not_found_errors_list_what_exists(repo: RegistryRepo) -> None:
    reg = Registry.open(repo.root)
    with pytest.raises(NotFoundError, match="models: churn-predictor, fraud-detector, search-ranker"):
        reg.model("fraud")
    with pytest.raises(NotFoundError, match="aliases: challenger, champion, shadow"):
        reg.resolve("models:/churn-predictor@production")
    with pytest.raises(NotFoundError, match="versions: 1, 2$"):
        reg.version("search-ranker", 5)


def test_invalid_manifest_is_never_half_read(repo: RegistryRepo) -> None:
    repo.write("registry/models/search-ranker/versions/1/version.yaml", "apiVersion: mlgate/v1\nkind: ModelVersion\n")
    reg = Registry.open(repo.root)
    with pytest.raises(
        InputError, match=r"MG101 missing required field 'model' \(and \d+ more problems: run mlgate validate\)"
    ):
        reg.resolve("models:/search-ranker@champion")


def test_git_reads_use_one_long_lived_process(repo: RegistryRepo, processes: list, example_files: list[str]) -> None:
    """Reading every file of a commit costs a constant number of git processes, not one per file."""
    processes.clear()  # only what the reads start
    git = GitRepo(repo.root)
    tree = git.tree("main")
    files = tree.walk("registry")
    data = [tree.read(p) for p in files]
    git.close()
    assert sorted(files) == example_files and all(data)
    assert len(processes) <= 4, processes  # rev-parse, ls-tree, cat-file --batch(-check)
    assert sum("--batch" in " ".join(a) for a in processes) <= 2
