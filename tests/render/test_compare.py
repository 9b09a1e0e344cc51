"""The comparison drawn for terminals and Markdown when one side lacks evidence, and across two models."""

from __future__ import annotations

from mlgate.audit.compare import compare, headings
from mlgate.registry.names import resolve_target
from mlgate.registry.snapshot import Registry
from mlgate.render.compare import compare_markdown, compare_text
from mlgate.testing import RegistryRepo


def test_a_side_without_eval_or_card_is_said_so(repo: RegistryRepo) -> None:
    repo.add_version("fraud-detector", 4, like=3)
    repo.delete("registry/models/fraud-detector/versions/4/eval.yaml")
    repo.delete("registry/models/fraud-detector/versions/4/card.md")
    reg = Registry.open(repo.root)
    view = compare(reg, resolve_target(reg, "fraud-detector/3"), resolve_target(reg, "fraud-detector/4"))
    text = compare_text(view)
    assert "only in v3" in next(l for l in text.splitlines() if l.strip().startswith("auc"))
    assert "card sections (b vs a): only a has a card" in text
    assert "evidence (b vs a): removed: card, eval" in text
    assert "**card sections** (b vs a): only a has a card" in compare_markdown(view)


def test_two_models_are_named_in_full(repo: RegistryRepo) -> None:
    reg = Registry.open(repo.root)
    view = compare(reg, resolve_target(reg, "fraud-detector@champion"), resolve_target(reg, "churn-predictor@champion"))
    auc = next(l for l in compare_text(view).splitlines() if l.strip().startswith("auc"))
    assert "fraud-detector v2 (higher is better" in auc


def test_headings_are_read_as_commonmark_and_the_title_is_not_a_section() -> None:
    card = "# m v3\n\n## Intended use\n\n```\n## not a heading\n```\n\nLimits\n------\n\n## Intended  use\n"
    assert headings(card) == ["Intended use", "Limits"]
    assert headings("## A\n\n# B\n\n# C\n") == ["A", "B", "C"]  # no single title: every heading counts
