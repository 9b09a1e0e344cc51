"""`mlgate compare`: two versions side by side, metrics judged by the policy's direction, and only what differs."""

from __future__ import annotations

import json

import pytest

from mlgate.testing import RegistryRepo

CARD = "# fraud-detector v4\n\n## Intended use\n\nScoring.\n\n## Monitoring\n\nDrift alerts.\n"


@pytest.fixture
def four(repo: RegistryRepo) -> RegistryRepo:
    """fraud-detector v4: better auc, no latency, a new metric, other params and environment, another card."""
    repo.add_version(
        "fraud-detector", 4, like=3, metrics={"auc": 0.95, "recall": 0.5}, drop_metrics=("latency_p99_ms",), card=CARD
    )
    path = "registry/models/fraud-detector/versions/4/version.yaml"
    doc = repo.read_yaml(path)
    doc["lineage"]["params"]["max_depth"] = 12
    doc["lineage"]["environment"]["python"] = "3.12"
    doc["evidence"] = {}
    repo.write(path, doc)
    repo.delete("registry/models/fraud-detector/versions/4/bias-audit.md")
    repo.commit("fraud-detector v4")
    return repo


def test_metrics_side_by_side_with_deltas_and_the_better_side(four: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli("-C", four.root, "compare", "fraud-detector", "challenger", "4", "--format", "json")
    assert code == 0
    view = json.loads(out)
    assert (view["a"]["version"], view["a"]["alias"], view["b"]["version"]) == (3, "challenger", 4)
    rows = {m["name"]: m for m in view["metrics"]}
    assert rows["auc"] == {
        "name": "auc",
        "a": 0.911,
        "b": 0.95,
        "delta": 0.039,  # exact, as written: not 0.03899999999999992
        "direction": "higher",
        "why": "champion gate: min 0.85",
        "better": "b",
    }
    assert (rows["latency_p99_ms"]["b"], rows["latency_p99_ms"]["better"]) == (None, None)
    assert (rows["recall"]["direction"], rows["recall"]["why"]) == (None, "no metric gate names it")
    assert view["params"] == [{"field": "max_depth", "a": 9, "b": 12}]
    assert view["environment"] == [{"field": "python", "a": "3.11", "b": "3.12"}]
    assert view["lineage"] == []  # same run, code and data: v4 is a copy
    assert (view["card"]["added"], view["card"]["removed"]) == (
        ["Monitoring"],
        ["Training data", "Evaluation", "Limitations"],
    )
    assert (view["evidence"]["added"], view["evidence"]["removed"]) == ([], ["bias_audit"])


def test_the_text_says_which_is_better_and_why(four: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli("-C", four.root, "compare", "fraud-detector/2", "fraud-detector@challenger")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "compare fraud-detector/2 (a) with fraud-detector@challenger (b)"
    auc = next(l for l in lines if l.strip().startswith("auc "))
    assert auc.split()[:5] == ["auc", "0.902", "0.911", "+0.009", "v3"] and "higher is better" in auc
    latency = next(l for l in lines if l.strip().startswith("latency_p99_ms"))
    assert latency.split()[:5] == ["latency_p99_ms", "34.5", "38.2", "+3.7", "v2"] and "lower is better" in latency
    assert "direction unknown (no metric gate names it)" in next(l for l in lines if "precision_at_1pct_fpr" in l)
    assert "environment: same" in lines and "card sections (b vs a): same sections" in lines
    code, out, _ = run_cli("-C", four.root, "compare", "fraud-detector", "3", "4")
    assert "only in v3" in next(l for l in out.splitlines() if l.strip().startswith("latency_p99_ms"))
    assert "card sections (b vs a): added: Monitoring; removed: Training data, Evaluation, Limitations" in out
    assert "evidence (b vs a): removed: bias_audit" in out


def test_compare_reads_the_ref_asked(four: RegistryRepo, run_cli) -> None:
    code, _, err = run_cli("-C", four.root, "compare", "fraud-detector", "3", "4", "--ref", "HEAD~1")
    assert code == 2 and "no version 4 of model 'fraud-detector' in HEAD~1" in err and "(versions: 1, 2, 3)" in err


def test_a_model_gate_decides_a_direction_the_registry_leaves_open(four: RegistryRepo, run_cli) -> None:
    path = "registry/models/fraud-detector/model.yaml"
    doc = four.read_yaml(path)
    doc["policy"] = {"aliases": {"champion": {"metrics": {"recall": {"min": 0.4}}}}}
    four.write(path, doc)
    code, out, _ = run_cli("-C", four.root, "compare", "fraud-detector", "3", "4", "--format", "json")
    recall = next(m for m in json.loads(out)["metrics"] if m["name"] == "recall")
    assert (recall["direction"], recall["why"]) == ("higher", "champion gate: min 0.4")


def test_markdown_is_tables_with_untrusted_text_inert(four: RegistryRepo, run_cli) -> None:
    four.write(
        "registry/models/fraud-detector/versions/4/card.md",
        "# v4\n\n## <img src=x onerror=alert(1)> [click](http://evil) \x1b[2J\n\nText.\n",
    )
    four.edit_yaml("registry/models/fraud-detector/versions/4/version.yaml", description="**bold** | <b>x</b>")
    code, out, _ = run_cli("-C", four.root, "compare", "fraud-detector", "3", "4", "--format", "markdown")
    assert code == 0
    assert out.startswith("### Compare `fraud-detector/3` (a) with `fraud-detector/4` (b)\n")
    assert "| metric | a | b | delta (b - a) | better |" in out
    assert "<img" not in out and "<b>" not in out and "[click](" not in out and "\x1b" not in out
    assert "\\*\\*bold\\*\\* \\| &lt;b&gt;x&lt;/b&gt;" in out
    code, out, _ = run_cli("-C", four.root, "compare", "fraud-detector", "3", "4")
    assert "\x1b" not in out and "\\x1b[2J" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fraud-detector"], "compare takes MODEL A B or two versions (MODEL/A MODEL@B), not 1 argument"),
        (["fraud-detector", "2"], "'fraud-detector' names a model: expected MODEL@ALIAS or MODEL/VERSION"),
        (["fraud-detector", "2", "champoin"], "did you mean 'champion'?"),
    ],
)
def test_compare_usage_errors_exit_2(repo: RegistryRepo, run_cli, args: list[str], message: str) -> None:
    code, out, err = run_cli("-C", repo.root, "compare", *args)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1


def test_show_model_has_a_column_per_metric(four: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli("-C", four.root, "show", "fraud-detector")
    assert code == 0
    header = next(l for l in out.splitlines() if l.lstrip().startswith("version"))
    assert header.split() == [
        "version", "created", "by", "aliases", "auc", "precision_at_1pct_fpr", "latency_p99_ms", "recall", "description"
    ]  # fmt: skip
    start = header.index("latency_p99_ms")
    rows = {l.split()[0]: l for l in out.splitlines() if l[:2].strip().isdigit()}
    assert rows["3"][start : start + 4] == "38.2"
    assert rows["4"][start : start + 14].strip() == ""  # no such metric: blank, not 0
    view = json.loads(run_cli("-C", four.root, "show", "fraud-detector", "--json")[1])
    assert view["metrics"] == ["auc", "precision_at_1pct_fpr", "latency_p99_ms", "recall"]
    assert view["versions"][3]["metrics"] == {"auc": 0.95, "precision_at_1pct_fpr": 0.7, "recall": 0.5}


def test_show_model_keeps_wide_metric_tables_readable(repo: RegistryRepo, run_cli) -> None:
    many = {f"metric_{i}": i / 10 for i in range(7)}
    repo.add_version("fraud-detector", 4, like=3, metrics=many)
    repo.commit("fraud-detector v4, many metrics")
    code, out, _ = run_cli("-C", repo.root, "show", "fraud-detector")
    assert code == 0
    header = next(l for l in out.splitlines() if l.lstrip().startswith("version"))
    assert "metric_0" in header and "metric_6" not in header
    assert "6 more metrics not shown: metric_1, metric_2" in out and "(--json has them all)" in out
    view = json.loads(run_cli("-C", repo.root, "show", "fraud-detector", "--json")[1])
    assert "metric_6" in view["metrics"]
