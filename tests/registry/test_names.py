"""Names looked up in a registry snapshot: an alias gives the version it holds, and a name that is not there
is an error of its own class with a did-you-mean and the names there are."""

from __future__ import annotations

import pytest

from mlgate.errors import NotFoundError, UnknownAlias, UnknownModel, UnknownVersion, UsageError
from mlgate.registry.names import Named, Target, promoted_version, resolve_target
from mlgate.registry.snapshot import Registry
from mlgate.testing import RegistryRepo


@pytest.mark.parametrize(
    ("text", "then", "model", "alias", "version"),
    [
        ("fraud-detector", None, "fraud-detector", None, None),
        ("fraud-detector@champion", None, "fraud-detector", "champion", 2),
        ("models:/fraud-detector@challenger", None, "fraud-detector", "challenger", 3),
        ("fraud-detector/1", None, "fraud-detector", None, 1),
        ("models:/fraud-detector/3", None, "fraud-detector", None, 3),
        ("fraud-detector", "2", "fraud-detector", None, 2),
        ("churn-predictor", "shadow", "churn-predictor", "shadow", 4),
    ],
)
def test_a_name_resolves_to_the_version_it_names(
    repo: RegistryRepo, text: str, then: str | None, model: str, alias: str | None, version: int | None
) -> None:
    named = resolve_target(Registry.open(repo.root), text, then=then)
    assert (named.model, named.alias, named.version) == (model, alias, version)


def test_the_snapshot_of_a_ref_is_the_one_asked(repo: RegistryRepo) -> None:
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    repo.commit("champion is 3")
    reg = Registry.open(repo.root, "HEAD~1")
    assert resolve_target(reg, "fraud-detector@champion").version == 2
    assert resolve_target(Registry.open(repo.root, "main"), "fraud-detector@champion").version == 3


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (
            "fraud-detecter",
            UnknownModel,
            "no model 'fraud-detecter' in working tree; did you mean 'fraud-detector'? "
            "(models: churn-predictor, fraud-detector, search-ranker)",
        ),
        (
            "fraud-detector@champoin",
            UnknownAlias,
            "no alias 'champoin' of model 'fraud-detector' in working tree; did you mean 'champion'? "
            "(aliases: challenger, champion)",
        ),
        (
            "models:/fraud-detector/Archived",
            UnknownVersion,
            "models:/fraud-detector/Archived: model 'fraud-detector' has no version in stage Archived",
        ),
        (
            "fraud-detector/9",
            UnknownVersion,
            "no version 9 of model 'fraud-detector' in working tree (versions: 1, 2, 3)",
        ),
    ],
)
def test_a_name_that_is_not_there_says_what_is(
    repo: RegistryRepo, text: str, error: type[NotFoundError], message: str
) -> None:
    with pytest.raises(error) as caught:
        resolve_target(Registry.open(repo.root), text)
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


def test_want_keeps_a_command_to_the_forms_it_can_use(repo: RegistryRepo) -> None:
    reg = Registry.open(repo.root)
    with pytest.raises(UsageError, match="names a model: expected MODEL@ALIAS or MODEL/VERSION"):
        resolve_target(reg, "fraud-detector", want=("alias", "version"))
    assert resolve_target(reg, "fraud-detector@champion", want=("alias",)) == Named(
        Target("fraud-detector", alias="champion"), "fraud-detector", "champion", 2
    )


def test_a_promotion_names_an_alias_by_its_holder_on_the_base(repo: RegistryRepo) -> None:
    repo.branch("work")
    repo.edit_yaml("registry/models/fraud-detector/aliases/challenger.yaml", version=1)
    repo.commit("challenger is 1, on a branch only")
    assert promoted_version(repo.root, "main", "fraud-detector@challenger") == ("fraud-detector", 3)
    assert promoted_version(repo.root, "main", "fraud-detector", then="2") == ("fraud-detector", 2)
    # a version is not looked up here: the promotion itself says when the base has no such version
    assert promoted_version(repo.root, "main", "fraud-detector/9") == ("fraud-detector", 9)
    with pytest.raises(UnknownAlias, match="did you mean 'challenger'"):
        promoted_version(repo.root, "main", "fraud-detector@challengr")
