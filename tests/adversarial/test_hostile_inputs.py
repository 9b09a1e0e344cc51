"""Hostile or broken pull requests: each is refused with its exact rule, exit code 1, no traceback,
and validation changes nothing in the repository.

Every case is a change committed on a branch `pr` off `main` of the example registry, judged as CI
would judge it: `mlgate validate --base main --head pr` (with the local forge's reviews for gate tricks).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Callable

import pytest

from mlgate.cli import main
from mlgate.forge.local import LocalForge
from mlgate.testing import RegistryRepo

FD = "registry/models/fraud-detector"
CHAMP = f"{FD}/aliases/champion.yaml"
V2 = f"{FD}/versions/2"
NEW = f"{FD}/versions/4"
ALIAS = "apiVersion: mlgate/v1\nkind: Alias\nmodel: fraud-detector\nalias: champion\n"
BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@dataclass
class Case:
    name: str
    mutate: Callable[[RegistryRepo], None]
    expect: list[tuple[str, str | None]]  # (rule, path); path None: any path
    reviews: Callable[[LocalForge, RegistryRepo], None] | None = None
    words: str = ""


def write(path: str, content: str | bytes) -> Callable[[RegistryRepo], None]:
    return lambda r: r.write(path, content)


def champion(text: str) -> Callable[[RegistryRepo], None]:
    return write(CHAMP, ALIAS + text)


def new_version(**changes: object) -> Callable[[RegistryRepo], None]:
    """Register v4 of fraud-detector as a copy of v3 with some version.yaml fields changed."""

    def apply(r: RegistryRepo) -> None:
        r.add_version("fraud-detector", 4, like=3)
        data = r.read_yaml(f"{NEW}/version.yaml")
        for key, value in changes.items():
            target = data
            *parents, last = key.split(".")
            for p in parents:
                target = target[p]
            target[last] = value
        r.write(f"{NEW}/version.yaml", data)

    return apply


def raw_version(text_edit: Callable[[str], str]) -> Callable[[RegistryRepo], None]:
    def apply(r: RegistryRepo) -> None:
        r.add_version("fraud-detector", 4, like=3)
        path = r.path(f"{NEW}/version.yaml")
        path.write_text(text_edit(path.read_text()))

    return apply


def both(*fns: Callable[[RegistryRepo], None]) -> Callable[[RegistryRepo], None]:
    def apply(r: RegistryRepo) -> None:
        for f in fns:
            f(r)

    return apply


def approve(*users: str, stale: bool = False) -> Callable[[LocalForge, RegistryRepo], None]:
    def apply(forge: LocalForge, repo: RegistryRepo) -> None:
        for u in users:
            forge.review(1, u, "APPROVED")
        if stale:  # the author pushes after the approvals
            repo.switch("pr")
            repo.edit_yaml(CHAMP, note="pushed after review")
            repo.commit("after review")
            repo.switch("main")

    return apply


def symlink(path: str, target: str) -> Callable[[RegistryRepo], None]:
    def apply(r: RegistryRepo) -> None:
        if r.path(path).exists() or r.path(path).is_symlink():
            r.delete(path)
        r.symlink(path, target)

    return apply


def move(src: str, dst: str) -> Callable[[RegistryRepo], None]:
    return lambda r: r.path(src).rename(r.path(dst))


def loosen_policy(r: RegistryRepo) -> None:
    policy = r.read_yaml("registry/policy.yaml")
    policy["aliases"]["champion"]["metrics"]["auc"] = {"min": 0.5}
    r.write("registry/policy.yaml", policy)


def model_loosening(r: RegistryRepo) -> None:
    model = r.read_yaml(f"{FD}/model.yaml")
    model["policy"] = {"aliases": {"champion": {"approvals": {"min": 0}}}}
    r.write(f"{FD}/model.yaml", model)


CASES = [
    # --- YAML hazards ------------------------------------------------------------------------------
    Case(
        "python-object-tag", champion("version: !!python/object/apply:os.system ['touch /tmp/x']\n"), [("MG001", CHAMP)]
    ),
    Case("python-name-tag", champion("version: !!python/name:os.system\n"), [("MG001", CHAMP)]),
    Case("binary-tag", champion("version: !!binary aGVsbG8=\n"), [("MG001", CHAMP)]),
    Case("timestamp-tag", champion("version: 3\nnote: !!timestamp 2026-01-01\n"), [("MG001", CHAMP)]),
    Case("custom-tag", champion("version: !secret 3\n"), [("MG001", CHAMP)]),
    Case("alias-bomb", write(CHAMP, BOMB), [("MG002", CHAMP)]),
    Case("deep-nesting", write(CHAMP, "version: " + "[" * 5000 + "]" * 5000 + "\n"), [("MG002", CHAMP)]),
    Case("duplicate-key", champion("version: 3\nversion: 2\n"), [("MG001", CHAMP)], words="duplicate key 'version'"),
    Case("merge-key", write(CHAMP, "base: &b {version: 3}\n<<: *b\n"), [("MG001", CHAMP)]),
    Case("yaml11-boolean", champion("version: on\n"), [("MG101", CHAMP)], words="expected integer, got a string 'on'"),
    Case("sexagesimal", champion("version: 1:20\n"), [("MG101", CHAMP)], words="'1:20'"),
    Case(
        "float-that-wants-quotes",
        new_version(**{"lineage.environment": {"python": 3.10}}),
        [("MG101", f"{NEW}/version.yaml")],
        words="quote it: '3.1'",
    ),
    Case("huge-file", write(CHAMP, ALIAS + "version: 3\n" + "#" * (1024 * 1024 + 10) + "\n"), [("MG002", CHAMP)]),
    Case("binary-junk", write(CHAMP, bytes(range(256)) * 4), [("MG001", CHAMP)]),
    Case(
        "latin-1",
        write(CHAMP, (ALIAS + "version: 3\nnote: caf\xe9\n").encode("latin-1")),
        [("MG001", CHAMP)],
        words="not valid UTF-8",
    ),
    Case("utf-16", write(CHAMP, (ALIAS + "version: 3\n").encode("utf-16")), [("MG001", CHAMP)], words="UTF-16"),
    Case("multiple-documents", champion("version: 3\n---\nversion: 2\n"), [("MG001", CHAMP)]),
    Case("empty-file", write(CHAMP, ""), [("MG001", CHAMP)]),
    Case("control-character", champion("version: 3\nnote: \x1b[31mred\n"), [("MG001", CHAMP)]),
    Case("undefined-alias", champion("version: *nowhere\n"), [("MG001", CHAMP)]),
    Case(
        "nan-metric",
        both(
            new_version(),
            write(
                f"{NEW}/eval.yaml",
                "apiVersion: mlgate/v1\nkind: EvalResult\nmodel: fraud-detector\n"
                "version: 4\ndataset: {name: h, sha256: " + "a" * 64 + "}\nmetrics: {auc: .nan}\n",
            ),
        ),
        [("MG001", f"{NEW}/eval.yaml")],
    ),
    Case(
        "infinite-metric",
        both(
            new_version(),
            write(
                f"{NEW}/eval.yaml",
                "apiVersion: mlgate/v1\nkind: EvalResult\nmodel: fraud-detector\n"
                "version: 4\ndataset: {name: h, sha256: " + "a" * 64 + "}\nmetrics: {auc: .inf}\n",
            ),
        ),
        [("MG001", f"{NEW}/eval.yaml")],
    ),
    Case(
        "string-metric",
        both(
            new_version(),
            write(
                f"{NEW}/eval.yaml",
                "apiVersion: mlgate/v1\nkind: EvalResult\nmodel: fraud-detector\n"
                "version: 4\ndataset: {name: h, sha256: " + "a" * 64 + "}\nmetrics: {auc: '0.99'}\n",
            ),
        ),
        [("MG101", f"{NEW}/eval.yaml")],
    ),
    # --- schema edge cases ---------------------------------------------------------------------------
    Case("version-zero", champion("version: 0\n"), [("MG101", CHAMP)]),
    Case("version-negative", champion("version: -3\n"), [("MG101", CHAMP)]),
    Case("version-string", champion("version: '3'\n"), [("MG101", CHAMP)]),
    Case("version-float", champion("version: 3.0\n"), [("MG101", CHAMP)], words="expected integer, got a number 3.0"),
    Case("uppercase-model-folder", move(FD, "registry/models/Fraud-Detector"), [("MG201", None), ("MG303", None)]),
    Case(
        "lookalike-alias-name",
        write(f"{FD}/aliases/ch\u0430mpion.yaml", ALIAS.replace("champion", "ch\u0430mpion") + "version: 3\n"),
        [("MG201", f"{FD}/aliases/ch\u0430mpion.yaml")],
    ),
    Case(
        "trailing-space-in-name",
        write(CHAMP, ALIAS.replace("alias: champion", "alias: 'champion '") + "version: 3\n"),
        [("MG101", CHAMP)],
    ),
    Case("short-digest", new_version(**{"artifact.sha256": "a" * 63}), [("MG101", f"{NEW}/version.yaml")]),
    Case("uppercase-digest", new_version(**{"artifact.sha256": "A" * 64}), [("MG101", f"{NEW}/version.yaml")]),
    Case(
        "unknown-field",
        champion("version: 3\napproved_by: ceo\n"),
        [("MG101", CHAMP)],
        words="unknown field 'approved_by'",
    ),
    Case("wrong-kind", write(CHAMP, ALIAS.replace("kind: Alias", "kind: Model") + "version: 3\n"), [("MG102", CHAMP)]),
    Case(
        "wrong-api-version", write(CHAMP, ALIAS.replace("mlgate/v1", "mlgate/v2") + "version: 3\n"), [("MG102", CHAMP)]
    ),
    Case("missing-required", new_version(artifact={"uri": "s3://x/y"}), [("MG101", f"{NEW}/version.yaml")]),
    Case("leading-zero-version-folder", both(new_version(), move(NEW, f"{FD}/versions/04")), [("MG201", None)]),
    Case("relative-artifact-uri", new_version(**{"artifact.uri": "models/x.onnx"}), [("MG101", f"{NEW}/version.yaml")]),
    # --- path tricks -------------------------------------------------------------------------------------
    Case(
        "symlinked-evidence",
        both(new_version(), symlink(f"{NEW}/bias-audit.md", "/etc/passwd")),
        [("MG208", f"{NEW}/bias-audit.md")],
    ),
    Case("symlinked-folder", symlink("registry/models/evil", "/etc"), [("MG208", "registry/models/evil")]),
    Case(
        "symlink-to-another-model",
        symlink(f"{FD}/aliases/shadow.yaml", "../../churn-predictor/aliases/champion.yaml"),
        [("MG208", f"{FD}/aliases/shadow.yaml")],
    ),
    Case(
        "dotdot-evidence",
        new_version(evidence={"bias_audit": "../../../../../../etc/passwd"}),
        [("MG207", f"{NEW}/version.yaml")],
    ),
    Case("absolute-evidence", new_version(evidence={"bias_audit": "/etc/passwd"}), [("MG207", f"{NEW}/version.yaml")]),
    Case(
        "backslash-evidence",
        new_version(evidence={"bias_audit": "..\\..\\secrets.md"}),
        [("MG207", f"{NEW}/version.yaml")],
    ),
    Case("case-only-rename", move(CHAMP, f"{FD}/aliases/Champion.yaml"), [("MG201", f"{FD}/aliases/Champion.yaml")]),
    Case(
        "file-where-folder-expected",
        lambda r: (r.delete(f"{FD}/aliases"), r.write(f"{FD}/aliases", "champion: 3\n")),
        [("MG201", f"{FD}/aliases")],
    ),
    # --- history tricks ------------------------------------------------------------------------------------
    Case("edit-merged-version", write(f"{V2}/eval.yaml", "x"), [("MG301", f"{V2}/eval.yaml")]),
    Case(
        "edit-merged-metrics",
        lambda r: r.write(f"{V2}/eval.yaml", r.path(f"{V2}/eval.yaml").read_text().replace("0.902", "0.99")),
        [("MG301", f"{V2}/eval.yaml")],
    ),
    Case(
        "delete-and-readd-other-content",
        lambda r: (r.delete(f"{V2}/card.md"), r.write(f"{V2}/card.md", "# new card\n")),
        [("MG301", f"{V2}/card.md")],
    ),
    Case("delete-merged-version", lambda r: r.delete(V2), [("MG302", f"{V2}/version.yaml"), ("MG204", CHAMP)]),
    Case("rename-model", move(FD, "registry/models/fraud"), [("MG303", f"{V2}/version.yaml")]),
    Case(
        "alias-to-version-added-and-removed",
        lambda r: (r.add_version("fraud-detector", 4, like=3), r.delete(NEW), r.edit_yaml(CHAMP, version=4)),
        [("MG204", CHAMP)],
    ),
    Case(
        "alias-to-deprecated",
        lambda r: r.edit_yaml("registry/models/churn-predictor/aliases/champion.yaml", version=1),
        [("MG205", "registry/models/churn-predictor/aliases/champion.yaml")],
    ),
    # --- gate tricks (judged with the local forge's reviews of PR #1) ----------------------------------------
    Case("self-approval", lambda r: r.edit_yaml(CHAMP, version=3), [("MG406", CHAMP)], approve("pr-author", "dave")),
    Case(
        "stale-approval",
        lambda r: r.edit_yaml(CHAMP, version=3),
        [("MG406", CHAMP)],
        approve("dave", "erin", stale=True),
    ),
    Case(
        "bot-approval", lambda r: r.edit_yaml(CHAMP, version=3), [("MG406", CHAMP)], approve("dave", "mlgate-ci[bot]")
    ),
    Case("outsider-approval", lambda r: r.edit_yaml(CHAMP, version=3), [("MG406", CHAMP)], approve("dave", "mallory")),
    Case(
        "policy-loosened-in-same-pr",
        both(loosen_policy, lambda r: r.edit_yaml(f"{FD}/aliases/champion.yaml", version=1)),
        [("MG403", CHAMP), ("MG501", "registry/policy.yaml")],
        approve("dave", "erin"),
    ),
    Case(
        "codeowners-edited-in-same-pr",
        both(write(".github/CODEOWNERS", "* @mallory\n"), lambda r: r.edit_yaml(CHAMP, version=3)),
        [("MG501", ".github/CODEOWNERS")],
        approve("dave", "erin"),
    ),
    Case(
        "workflow-weakened",
        write(".github/workflows/validate.yml", "name: validate\non: push\njobs: {}\n"),
        [("MG501", ".github/workflows/validate.yml")],
        approve("dave"),
    ),
    Case("per-model-loosening", model_loosening, [("MG502", f"{FD}/model.yaml")], approve("dave")),
    Case(
        "metric-missing-on-candidate",
        both(
            lambda r: r.add_version("fraud-detector", 4, like=3, drop_metrics=("auc",)),
            lambda r: r.edit_yaml(CHAMP, version=4),
        ),
        [("MG402", CHAMP)],
        approve("dave", "erin"),
    ),
]


def test_at_least_fifty_distinct_cases() -> None:
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names) >= 50


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_change_is_refused(lab, case: Case, capsys) -> None:
    repo, forge = lab
    repo.branch("pr")
    case.mutate(repo)
    repo.commit(case.name, author="pr-author <pr-author@example.com>")
    repo.switch("main")
    args = ["-C", str(repo.root), "validate", "--format", "json"]
    if case.reviews:
        forge.open_pull_request(title=case.name, body="", head="pr", base="main", labels=[], author="pr-author")
        case.reviews(forge, repo)
        args += ["--forge", "local", "--pr", "1"]
    else:
        args += ["--base", "main", "--head", "pr"]
    before = (repo.status(), repo.rev("main"), repo.rev("pr"))
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 1, err
    report = json.loads(out)
    found = {(f["rule"], f["path"]) for f in report["findings"] if f["severity"] == "error"}
    for rule, path in case.expect:
        assert any(r == rule and (path is None or p == path) for r, p in found), f"{rule} {path} not in {sorted(found)}"
    if case.words:
        assert any(case.words in f["message"] for f in report["findings"]), [f["message"] for f in report["findings"]]
    assert (repo.status(), repo.rev("main"), repo.rev("pr")) == before  # validation changed nothing


def test_a_force_pushed_base_is_judged_by_its_new_content(repo: RegistryRepo, capsys) -> None:
    """Someone rewrites main's history to change a merged version; a PR from before is judged against the rewritten
    base, so the difference shows as a modification of a merged version. (Stopping force pushes is branch protection's
    job: see SECURITY.md.)"""
    repo.branch("pr")
    repo.edit_yaml("registry/models/search-ranker/aliases/challenger.yaml", version=1)
    repo.commit("challenger v1")
    repo.switch("main")
    repo.write(f"{V2}/eval.yaml", repo.path(f"{V2}/eval.yaml").read_text().replace("0.902", "0.999"))
    subprocess.run(["git", "commit", "--quiet", "--amend", "-am", "Initial registry"], cwd=repo.root, check=True)
    code = main(["-C", str(repo.root), "validate", "--base", "main", "--head", "pr", "--format", "json"])
    report = json.loads(capsys.readouterr()[0])
    assert code == 1
    assert ("MG301", f"{V2}/eval.yaml") in {(f["rule"], f["path"]) for f in report["findings"]}
