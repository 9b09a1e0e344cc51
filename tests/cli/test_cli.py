"""The command line as a user runs it: output, exit codes, errors without tracebacks, help."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import jsonschema
import pytest

from mlgate.cli import cli
from mlgate.infra.resources import schemas_dir
from mlgate.testing import RegistryRepo


def test_validate_ok(repo: RegistryRepo, run_cli, example_files: list[str]) -> None:
    code, out, _ = run_cli("-C", str(repo.root), "validate")
    assert code == 0
    assert out.startswith(f"OK: no problems ({len(example_files)} files checked; all of working tree)")


def test_validate_failure_text_and_exit_1(repo: RegistryRepo, run_cli) -> None:
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=42)
    code, out, _ = run_cli("-C", str(repo.root), "validate")
    assert code == 1
    assert (
        "registry/models/fraud-detector/aliases/champion.yaml:5: MG204 alias-target: alias 'champion' points at "
        "version 42 of 'fraud-detector', which does not exist (versions: 1, 2, 3)"
    ) in out
    assert "FAILED: 1 problem" in out


def test_validate_json_follows_its_documented_schema(repo: RegistryRepo, run_cli) -> None:
    repo.branch("pr")
    repo.write("registry/models/fraud-detector/versions/1/card.md", "# edited\n")
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=42)
    repo.commit("bad")
    code, out, _ = run_cli("-C", str(repo.root), "validate", "--base", "main", "--head", "pr", "--format", "json")
    assert code == 1
    doc = json.loads(out)
    schema = json.loads((schemas_dir() / "validate-report.schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert doc["ok"] is False and doc["mode"] == "incremental" and doc["counts"]["error"] == 2
    assert [(f["rule"], f["path"]) for f in doc["findings"]] == [
        ("MG204", "registry/models/fraud-detector/aliases/champion.yaml"),
        ("MG301", "registry/models/fraud-detector/versions/1/card.md"),
    ]
    assert doc["base"].startswith("main (") and doc["head"].startswith("pr (")


def test_validate_markdown(repo: RegistryRepo, run_cli) -> None:
    repo.write("registry/models/fraud-detector/aliases/champion.yaml", "version: |bad\n")
    code, out, _ = run_cli("-C", str(repo.root), "validate", "--format", "markdown")
    assert code == 1
    assert out.startswith("### mlgate validate: 1 problem :x:")
    assert "| `MG001` parse | `registry/models/fraud-detector/aliases/champion.yaml:1` |" in out
    assert "<details><summary>What the rules check</summary>" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["validate", "--base", "no-such-ref"], "unknown git ref 'no-such-ref'"),
        (["validate", "--format", "xml"], "Invalid value for '--format'"),
        (["validate", "--bogus"], "No such option"),
        (["resolve", "fraud-detector"], "names a model: expected MODEL@ALIAS or MODEL/VERSION"),
        (["resolve", "models:/fraud-detector"], "is not a model URI"),
        (["resolve", "models:/nope@champion"], "no model 'nope'"),
        (["resolve", "models:/fraud-detector@king"], "aliases: challenger, champion"),
        (["resolve", "models:/fraud-detector/7"], "versions: 1, 2, 3"),
        (["show", "fraud-detector", "0"], "'0' is not a version number"),
        (["show", "fraud-detector", "--ref", "v9"], "unknown git ref 'v9'"),
        (["rules", "MG999"], "unknown rule 'MG999'"),
        (["nope"], "No such command 'nope'"),
    ],
)
def test_usage_and_lookup_errors_exit_2(repo: RegistryRepo, run_cli, args: list[str], words: str) -> None:
    code, out, err = run_cli("-C", str(repo.root), *args)
    assert code == 2
    assert words in err
    assert out == ""


def test_broken_manifest_in_a_read_command_names_file_and_line(repo: RegistryRepo, run_cli) -> None:
    repo.write(
        "registry/models/fraud-detector/aliases/champion.yaml", "apiVersion: mlgate/v1\nkind: Alias\nkind: Alias\n"
    )
    code, _, err = run_cli("-C", str(repo.root), "resolve", "models:/fraud-detector@champion")
    assert code == 2
    assert "registry/models/fraud-detector/aliases/champion.yaml:3: MG001 duplicate key 'kind'" in err


def test_not_a_registry(tmp_path: Path, run_cli) -> None:
    code, _, err = run_cli("-C", str(tmp_path), "validate")
    assert code == 2 and "no registry/ folder" in err
    code, _, err = run_cli("-C", str(tmp_path), "list")
    assert code == 2 and "no registry/ folder" in err


def test_list(repo: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli("-C", str(repo.root), "list")
    assert code == 0
    line = next(l for l in out.splitlines() if l.strip().startswith("churn-predictor"))
    assert line.split()[:5] == ["churn-predictor", "4", "4", "challenger=4,", "champion=3,"]
    code, out, _ = run_cli("-C", str(repo.root), "list", "--ref", "main", "--json")
    doc = json.loads(out)
    assert doc["commit"] == repo.rev("main")
    assert [m["name"] for m in doc["models"]] == ["churn-predictor", "fraud-detector", "search-ranker"]
    assert doc["models"][0]["deprecated"] == [1]


def test_show_model_and_version(repo: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli("-C", str(repo.root), "show", "churn-predictor")
    assert code == 0
    assert "aliases: challenger=4, champion=3, shadow=4" in out
    assert "deprecated: Trained on data that included post-cancellation events" in out
    code, out, _ = run_cli("-C", str(repo.root), "show", "fraud-detector", "2", "--json")
    doc = json.loads(out)
    assert doc["aliases"] == ["champion"]
    assert doc["eval"]["metrics"]["auc"] == 0.902
    assert doc["evidence"] == {"eval": "eval.yaml", "card": "card.md", "bias_audit": "bias-audit.md"}
    code, out, _ = run_cli("-C", str(repo.root), "show", "fraud-detector", "2")
    assert "fraud-detector version 2: Adds merchant-category embeddings." in out
    assert "auc" in out and "0.902" in out


def test_resolve_text_json_and_at_a_ref(repo: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli("-C", str(repo.root), "resolve", "models:/fraud-detector@champion")
    assert code == 0
    assert out.splitlines()[0] == "models:/fraud-detector@champion -> version 2"
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    code, out, _ = run_cli("-C", str(repo.root), "resolve", "models:/fraud-detector@champion", "--json")
    assert json.loads(out)["version"] == 3  # the working tree
    code, out, _ = run_cli(
        "-C", str(repo.root), "resolve", "models:/fraud-detector@champion", "--ref", "main", "--json"
    )
    doc = json.loads(out)
    assert doc["version"] == 2 and doc["commit"] == repo.rev("main")
    assert (
        doc["artifact"]["sha256"]
        == repo.read_yaml("registry/models/fraud-detector/versions/2/version.yaml")["artifact"]["sha256"]
    )


def test_rules(run_cli) -> None:
    code, out, _ = run_cli("rules", "mg204")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "MG204 alias-target: An alias points at a version that does not exist."
    assert lines[1:3] == ["  family:   integrity", "  severity: error"]
    # one hop from a rule to its check: the module, and a file that exists and defines it
    module, _, path = lines[3].removeprefix("  checked in ").partition(" (")
    assert module == "mlgate.check.gates"
    assert "MG204 = define(" in Path(path.rstrip(")")).read_text()


def test_rules_lists_every_rule_with_its_family(run_cli) -> None:
    from mlgate.check.rules import RULES

    code, out, _ = run_cli("rules")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == list(RULES)
    assert "MG403 gate-regression (gate): " in out and "MG301 immutable-modified (immutability): " in out
    assert run_cli("rules", "MG999")[0] == 2


def _commands(group: click.Group) -> list[tuple[str, click.Command]]:
    return [(name, group.commands[name]) for name in sorted(group.commands)]


@pytest.mark.parametrize(("name", "command"), _commands(cli), ids=[n for n, _ in _commands(cli)])
def test_every_command_and_option_has_help_with_an_example(name: str, command: click.Command) -> None:
    assert command.help and getattr(command, "examples", None), f"{name} has no example in its help"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"{name} {param.opts} has no help"
    ctx = click.Context(command, info_name=name)
    assert "Example" in command.get_help(ctx)


def test_console_script_runs_without_traceback(repo: RegistryRepo) -> None:
    repo.write("registry/models/fraud-detector/model.yaml", b"name: \xff junk\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mlgate", "-C", str(repo.root), "validate"], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "MG001 parse: file is not valid UTF-8" in proc.stdout
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "mlgate", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "mlgate validate --base origin/main" in proc.stdout


def test_gate_dry_run(repo: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli("-C", str(repo.root), "gate", "fraud-detector", "3", "--alias", "champion")
    assert code == 0  # every gate passes; approvals wait for a pull request
    assert out.splitlines()[0] == "fraud-detector@champion: 2 -> 3 (promotion)  [policy: champion]  PENDING"
    assert "pending  approvals              needs 2 from @acme/ml-leads, carol; not in a pull request yet" in out
    code, out, _ = run_cli(
        "-C", str(repo.root), "gate", "churn-predictor", "4", "--alias", "champion", "--format", "json"
    )
    assert code == 1
    doc = json.loads(out)
    regression = next(c for c in doc["checks"] if c["gate"] == "no regression auc")
    assert regression["status"] == "fail"
    assert regression["details"] == {
        "candidate": 0.868,
        "holder": 0.874,
        "holder_version": 3,
        "delta": -0.006,
        "tolerance": 0.005,
        "better": "higher",
    }
    code, out, _ = run_cli(
        "-C", str(repo.root), "gate", "churn-predictor", "4", "--alias", "champion", "--format", "markdown"
    )
    assert "| no regression auc | :x: fail | auc regresses: v4 0.868 vs v3 0.874" in out
    code, _, err = run_cli("-C", str(repo.root), "gate", "churn-predictor", "9", "--alias", "champion")
    assert code == 2 and "versions: 1, 2, 3, 4" in err


def test_validate_shows_gate_tables_and_exits_1_while_pending(repo: RegistryRepo, run_cli) -> None:
    repo.branch("pr")
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    repo.commit("promote")
    code, out, _ = run_cli("-C", str(repo.root), "validate", "--base", "main", "--head", "pr")
    assert code == 1
    assert "fraud-detector@champion: 2 -> 3 (promotion)  [policy: champion]  PENDING" in out
    assert out.rstrip().splitlines()[-1].startswith("NOT YET: 1 gate pending (1 file checked;")
    code, out, _ = run_cli("-C", str(repo.root), "validate", "--base", "main", "--head", "pr", "--format", "json")
    doc = json.loads(out)
    assert doc["counts"] == {"error": 0, "pending": 1, "warning": 0}
    assert doc["gates"][0]["status"] == "pending" and doc["gates"][0]["from"] == 2 and doc["gates"][0]["to"] == 3


def test_demo_runs_the_whole_cycle(run_cli, tmp_path: Path) -> None:
    code, out, _ = run_cli("demo", "--keep", str(tmp_path / "demo"))
    assert code == 0, out
    assert "!! unexpected" not in out
    assert "mlgate: error: pull request #4 cannot be merged: mlgate validate does not pass" in out
    assert (
        "1 of 2 required approvals from @demo/ml-leads, carol (dave); not counted: alice (the author cannot approve"
        in out
    )
    assert "fraud-detector@champion: 2 -> 1 (rollback)" in out
    resolved = [l for l in out.splitlines() if l.startswith("models:/fraud-detector@champion -> ")]
    assert resolved == [
        "models:/fraud-detector@champion -> version 2",
        "models:/fraud-detector@champion -> version 1",
        "models:/fraud-detector@champion -> version 2",  # after the canary completed
    ]
    # the canaries: a policy change by the admins, a sticky 5% share, a step, a completion, a refused step, an abort
    assert "governance change" not in out  # the policy pull request passed its admin gate
    assert re.search(r"\b[45]\.\d% of 10,000 users go to v2", out)
    assert "fails its gate (live error_rate, live no regression error_rate); nothing was created" in out
    for kind in ("rollout-start", "rollout-evidence", "rollout-step", "rollout-complete", "rollout-abort"):
        assert f" {kind} " in out, kind
    # the kept repository is a real one, and its main validates
    code, out, _ = run_cli("-C", str(tmp_path / "demo" / "registry-repo"), "validate")
    assert code == 0, out


def test_the_command_line_starts_without_the_validators_dependencies() -> None:
    """`mlgate --help` and every command pay only for what they use: importing the CLI loads no YAML, JSON
    Schema, PyGithub or checking module (they are imported by the commands that need them)."""
    heavy = ["yaml", "jsonschema", "github", "markdown_it", "mlgate.check.gates", "mlgate.check.rules"]
    code = f"import sys, mlgate.cli; print([m for m in {heavy!r} if m in sys.modules])"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "[]"
    # the probe sees an import when there is one
    code = f"import sys, mlgate.cli, mlgate.check.rules; print([m for m in {heavy!r} if m in sys.modules])"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "'yaml'" in probe.stdout and "'mlgate.check.rules'" in probe.stdout


def test_validate_ignores_mlgate_forge_local_without_a_pull_request(repo, run_cli, monkeypatch) -> None:
    """$MLGATE_FORGE=local is how a user sets the write commands' forge; a plain validate still checks the tree."""
    monkeypatch.setenv("MLGATE_FORGE", "local")
    assert run_cli("-C", repo.root, "validate")[0] == 0
    code, _, err = run_cli("-C", repo.root, "validate", "--forge", "local")
    assert code == 2 and "--forge local needs --pr N" in err


def test_resolve_reads_uris_as_mlflow_does(repo, capsys) -> None:
    from mlgate.cli import main

    for uri, version in (
        ("models:/fraud-detector/Production", 2),
        ("models:/fraud-detector/staging", 3),
        ("fraud-detector/latest", 3),
        ("models:/fraud-detector@Champion", 2),
    ):
        assert main(["-C", str(repo.root), "resolve", uri, "--json"]) == 0, uri
        assert json.loads(capsys.readouterr().out)["version"] == version, uri
    assert main(["-C", str(repo.root), "resolve", "models:/fraud-detector/2/model.onnx"]) == 0
    out = capsys.readouterr().out
    assert "-> version 2" in out and "path:   model.onnx (inside the artifact)" in out
    assert main(["-C", str(repo.root), "resolve", "models:/fraud-detector@v2"]) == 2
    assert "'v2' is reserved" in capsys.readouterr().err
