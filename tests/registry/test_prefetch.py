"""A registry read ahead from git in one round reads exactly what one read at a time does: the same models,
versions, aliases and descriptions, and the same refusals (a link, a file where a folder belongs, a manifest
past its size limit, a broken one), whatever the commit holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate.errors import MlgateError
from mlgate.infra import yamlio
from mlgate.registry.index import model_entry
from mlgate.registry.prefetch import PrefetchedTree, prefetched
from mlgate.registry.snapshot import Registry, describe_models
from mlgate.testing import RegistryRepo


def _outcome(read: Callable[[], Any]) -> object:
    try:
        return read()
    except MlgateError as e:
        return (type(e).__name__, str(e))


def _everything(reg: Registry) -> list[object]:
    """Every answer a whole-registry reader asks for (the index, mlgate list), errors included."""
    names = _outcome(reg.model_names)
    got: list[object] = [names, _outcome(reg.stages), _outcome(lambda: describe_models(reg))]
    for name in names if isinstance(names, list) else []:
        got.append(_outcome(lambda n=name: model_entry(reg, n)))
        got.append(_outcome(lambda n=name: {a: al.version for a, al in reg.aliases(n).items()}))
        got.append(_outcome(lambda n=name: reg.eval(n, 1)))
    return got


def _same(repo: RegistryRepo) -> None:
    plain = Registry.open(repo.root, "main")
    ahead = prefetched(Registry.open(repo.root, "main"))
    assert isinstance(ahead.tree, PrefetchedTree)
    assert _everything(ahead) == _everything(plain)


def test_the_example_registry_reads_the_same(repo: RegistryRepo) -> None:
    _same(repo)


def test_the_refusals_are_the_same(repo: RegistryRepo) -> None:
    root = "registry/models/fraud-detector"
    repo.write(f"{root}/versions/2/version.yaml", "x: " + "y" * (yamlio.MAX_BYTES + 1) + "\n")  # past the limit
    repo.write(f"{root}/aliases/champion.yaml", "version: [\n")  # not YAML
    repo.symlink("registry/models/linked", "fraud-detector")  # a model folder that is a link
    repo.write("registry/models/a-file", "not a folder\n")
    repo.symlink("registry/models/churn-predictor/aliases/beta.yaml", "champion.yaml")
    repo.commit("broken in five ways")
    _same(repo)
    plain = Registry.open(repo.root, "main")
    with pytest.raises(MlgateError, match="bytes"):
        plain.version("fraud-detector", 2)


def test_a_working_tree_is_read_where_it_is(repo: RegistryRepo) -> None:
    reg = Registry.open(repo.root)
    assert prefetched(reg) is reg


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["fraud-detector", "churn-predictor", "search-ranker"]),
            st.sampled_from(["delete-alias", "delete-version", "empty-model", "bad-version", "new-version"]),
            st.integers(1, 4),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_commit_reads_the_same(tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[str, str, int]]) -> None:
    repo = RegistryRepo.create(Path(tmp_path_factory.mktemp("r")) / "repo")
    try:
        for model, edit, n in edits:
            folder = repo.path(f"registry/models/{model}")
            if edit == "delete-alias":
                for alias in sorted((folder / "aliases").glob("*.yaml"))[:1]:
                    alias.unlink()
            elif edit == "delete-version" and (folder / "versions" / str(n) / "version.yaml").exists():
                (folder / "versions" / str(n) / "version.yaml").unlink()
            elif edit == "empty-model" and (folder / "model.yaml").exists():
                (folder / "model.yaml").write_text("")
            elif edit == "bad-version":
                repo.write(f"registry/models/{model}/versions/{n}/version.yaml", {"apiVersion": "mlgate/v1"})
            elif edit == "new-version":
                repo.write(f"registry/models/{model}/versions/{n + 10}/version.yaml", "kind: ModelVersion\n")
        if repo.status():
            repo.commit("edits")
        _same(repo)
    finally:
        repo.close()
