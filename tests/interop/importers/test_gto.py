"""``mlgate import gto`` on GTO repositories whose tags the real GTO (its Python API, which the ``gto`` command
line calls) wrote: registrations, deregistrations, stage assignments and unassignments, an artifacts.yaml with
a file and a folder artifact, a virtual one, tags GTO ignores, a hostile tagger; and one with thousands of tags."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlgate.infra.git import GitTree
from mlgate.infra.yamlio import load
from mlgate.testing import RegistryRepo

gto_api = pytest.importorskip("gto.api")

Ran = tuple[int, str, str]
#: a tagger whose name is Markdown (git itself strips control characters from names)
HOSTILE = "Mallory **bold** [x](http://evil.example)"
ARTIFACTS = """\
churn:
  type: model
  path: models/churn.pkl
  description: Predicts churn.
  labels: [tabular]
ranker:
  type: model
  path: models/ranker
remote:
  type: model
  path: s3://acme-models/remote.pkl
  virtual: true
"""


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def _commit(root: Path, files: dict[str, str], message: str) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", message)


@pytest.fixture(scope="module")
def gto_origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The GTO repository, made once (GTO writes each tag in about a tenth of a second)."""
    root = tmp_path_factory.mktemp("gto") / "gto"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    ann = {"author": "ann", "author_email": "ann@example.com"}
    _commit(root, {"artifacts.yaml": ARTIFACTS, "models/churn.pkl": "churn 1"}, "churn 1")
    gto_api.register(root, "churn", "HEAD", version="v0.1.0", **ann)
    gto_api.register(root, "remote", "HEAD", version="v1.0.0", **ann)
    _commit(root, {"models/churn.pkl": "churn 2", "models/ranker/a.txt": "a", "models/ranker/b/c.txt": "c"}, "two")
    gto_api.register(root, "churn", "HEAD", version="v0.2.0", **ann)
    gto_api.register(root, "ranker", "HEAD", version="v1.0.0", **ann)
    _commit(root, {"models/churn.pkl": "churn 10"}, "ten")
    gto_api.register(root, "churn", "HEAD", version="v0.10.0", **ann)
    gto_api.assign(root, "churn", "prod", version="v0.1.0", **ann)
    gto_api.assign(root, "churn", "prod", version="v0.2.0", **ann)
    gto_api.assign(root, "churn", "staging", version="v0.10.0", **ann)
    gto_api.unassign(root, "churn", version="v0.10.0", stage="staging", **ann)
    gto_api.assign(root, "churn", "dev", version="v0.10.0", author=HOSTILE, author_email="m@example.com")
    gto_api.deregister(root, "churn", version="v0.1.0", **ann)
    _git(root, "tag", "churn@v9.9.9")  # lightweight: GTO ignores it
    _git(root, "tag", "-a", "-m", "x", "weird@thing")  # not GTO's grammar
    return root


@pytest.fixture
def gto_repo(gto_origin: Path, tmp_path: Path) -> Path:
    """A copy of the GTO repository that the test may add to."""
    return Path(shutil.copytree(gto_origin, tmp_path / "gto", symlinks=True))


@pytest.fixture
def registry(tmp_path: Path) -> RegistryRepo:
    return RegistryRepo.create(tmp_path / "repo")


@pytest.fixture
def run_import(run_cli: Callable[..., Ran], registry: RegistryRepo, tmp_path: Path) -> Callable[..., Ran]:
    def run(path: Path, *args: str) -> Ran:
        return run_cli(
            "-C", registry.root, "import", "gto", path, "--store", tmp_path / "store", "--as", "alice", *args
        )

    return run


def _yaml(tree: GitTree, path: str) -> Any:
    return load(tree.read(path), path).data


def test_tags_become_versions_in_semver_order_and_stages_aliases(
    gto_repo: Path, run_import: Callable[..., Ran], run_cli: Callable[..., Ran], registry: RegistryRepo
) -> None:
    code, out, err = run_import(gto_repo, "--forge", "local", "--json")
    assert code == 1, err  # the virtual artifact cannot be copied
    result = json.loads(out)
    mapping = {(m["model"], m["source_version"]): m["version"] for m in result["version_mapping"]}
    assert mapping == {
        ("churn", "v0.2.0"): 1,
        ("churn", "v0.10.0"): 2,
        ("ranker", "v1.0.0"): 1,
        ("remote", "v1.0.0"): 1,
    }
    assert [(i["model"], i["version"], i["source_version"]) for i in result["imported"]] == [
        ("churn", 1, "v0.2.0"),
        ("churn", 2, "v0.10.0"),
        ("ranker", 1, "v1.0.0"),
    ]
    assert {(a["alias"], a["version"]) for a in result["aliases"]} == {("champion", 1), ("dev", 2)}
    details = [n["detail"] for n in result["notes"]]
    assert "stage 'prod' -> alias 'champion' (the policy's stages: mapping)" in details
    assert any("churn@v0.1.0 was deregistered in GTO" in d for d in details)
    assert any("'churn@v9.9.9' is a lightweight tag" in d for d in details)
    assert any("'weird@thing' does not follow GTO's tag grammar" in d for d in details)
    assert any(n["kind"] == "failed" and "is virtual" in n["detail"] for n in result["notes"])
    history = [(h["action"], h["stage"], h["source_version"], h["by"]) for h in result["stage_history"]]
    assert history == [
        ("assign", "prod", "v0.1.0", "ann"),
        ("assign", "prod", "v0.2.0", "ann"),
        ("assign", "staging", "v0.10.0", "ann"),
        ("unassign", "staging", "v0.10.0", "ann"),
        ("assign", "dev", "v0.10.0", HOSTILE),
    ]

    tree = GitTree(registry.git, result["branch"])
    version = _yaml(tree, "registry/models/churn/versions/2/version.yaml")
    assert version["tags"]["imported.version"] == "v0.10.0" and version["tags"]["imported.tag"] == "churn@v0.10.0"
    assert version["lineage"]["git_sha"] == _git(gto_repo, "rev-parse", "churn@v0.10.0^{commit}").strip()
    assert version["created_by"] == "ann"
    stored = Path(version["artifact"]["uri"].removeprefix("file://")).read_bytes()
    assert stored == b"churn 10" and hashlib.sha256(stored).hexdigest() == version["artifact"]["sha256"]
    ranker = _yaml(tree, "registry/models/ranker/versions/1/version.yaml")["artifact"]
    assert ranker["format"] == "tar" and ranker["size"] > 0
    model = _yaml(tree, "registry/models/churn/model.yaml")
    assert model["description"] == "Predicts churn." and model["tags"] == {"gto.labels": "tabular", "gto.type": "model"}
    assert tree.entry("registry/models/remote/model.yaml") is None

    code, out, _ = run_cli("-C", registry.root, "validate", "--forge", "local", "--pr", "1", "--format", "json")
    assert [f for f in json.loads(out)["findings"] if f["rule"].startswith(("MG0", "MG1", "MG2"))] == []


def test_the_pull_request_shows_the_stage_history_as_inert_markdown(
    gto_repo: Path, run_import: Callable[..., Ran], registry: RegistryRepo
) -> None:
    code, out, _ = run_import(gto_repo, "--forge", "local")
    assert code == 1
    assert f"assign dev v0.10.0  by {HOSTILE}" in out and "churn v0.10.0 -> v2" in out
    from mlgate.forge.local import LocalForge

    body = LocalForge(registry.root).pull_request(1).body
    assert "Mallory \\*\\*bold\\*\\* \\[x\\](http://evil.example)" in body and "**bold**" not in body
    assert "| `churn` | 2 | `v0.10.0` |" in body


def test_stage_option_and_rerun_numbers_new_versions_after_the_imported_ones(
    gto_repo: Path, run_import: Callable[..., Ran], registry: RegistryRepo
) -> None:
    code, out, _ = run_import(gto_repo, "--no-pr", "--stage", "dev=shadow", "--json")
    result = json.loads(out)
    assert {(a["alias"], a["version"]) for a in result["aliases"]} == {("champion", 1), ("shadow", 2)}
    registry.merge(result["branch"])
    _commit(gto_repo, {"models/churn.pkl": "churn 11"}, "eleven")
    gto_api.register(gto_repo, "churn", "HEAD", version="v0.11.0", author="ann", author_email="ann@example.com")
    code, out, _ = run_import(gto_repo, "--no-pr", "--stage", "dev=shadow", "--json")
    result = json.loads(out)
    assert [(i["model"], i["version"], i["source_version"]) for i in result["imported"]] == [("churn", 3, "v0.11.0")]
    skipped = [n["detail"] for n in result["notes"] if n["kind"] == "skipped"]
    assert "gto version v0.10.0 is already in the registry (same sha256)" in skipped
    code, _, err = run_import(gto_repo, "--stage", "dev")
    assert code == 2 and "expected STAGE=ALIAS" in err


def test_thousands_of_tags_give_a_bounded_report(tmp_path: Path, run_import: Callable[..., Ran]) -> None:
    root = tmp_path / "big"
    _git(root.parent, "init", "-q", "-b", "main", str(root))
    stream = ["commit refs/heads/main", "mark :1", "committer A <a@example.com> 1700000000 +0000", "data 4", "init"]
    stream += ["M 644 inline f.txt", "data 2", "x", ""]
    for n in range(3000):
        stream += [f"tag big@v0.0.{n}", "from :1", f"tagger A <a@example.com> {1700000001 + n} +0000", "data 0", ""]
    subprocess.run(
        ["git", "-C", str(root), "fast-import", "--quiet"], input="\n".join(stream) + "\n", text=True, check=True
    )
    code, out, _ = run_import(root, "--no-pr")
    assert code == 1 and len(out.splitlines()) < 200
    assert "... and 2970 more (--json lists all)" in out and "nothing new to import" in out
    code, out, _ = run_import(root, "--no-pr", "--json")
    assert len([n for n in json.loads(out)["notes"] if n["kind"] == "failed"]) == 3000


def test_a_path_that_is_not_a_repository_is_exit_2(run_import: Callable[..., Ran], tmp_path: Path) -> None:
    code, out, err = run_import(tmp_path / "nowhere")
    assert code == 2 and out == "" and "cannot read the GTO repository" in err and len(err.splitlines()) == 1


def test_stage_names_mlflow_reserves_are_not_aliases() -> None:
    from mlgate.interop.importers.gto import stage_aliases

    aliases, notes = stage_aliases({"latest", "Production", "qa"}, {"qa": "v2"}, {"Production": "champion"})
    assert aliases == {"Production": "champion"}
    assert sorted(n.kind for n in notes) == ["failed", "failed", "renamed"]
    assert any("'latest' is reserved" in n.detail for n in notes) and any("'v2' is reserved" in n.detail for n in notes)
