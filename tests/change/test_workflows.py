"""The GitHub set-up this repository ships (and `mlgate init` installs): safe by construction."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlgate.cli import main
from mlgate.infra.resources import github_dir
from mlgate.infra.yamlio import load
from mlgate.testing import RegistryRepo
from tests import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def workflow(name: str, root: Path = ROOT) -> dict:
    path = root / ".github" / "workflows" / name
    return load(path.read_bytes(), str(path)).data


def steps(wf: dict) -> list[dict]:
    return [s for job in wf["jobs"].values() for s in job["steps"]]


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_no_workflow_runs_untrusted_code_with_secrets(path: Path) -> None:
    text = path.read_text()
    assert "pull_request_target" not in text
    wf = load(text.encode(), str(path)).data
    for step in steps(wf):
        # values reach shells through env, never ${{ }} inside a script (no injection from PR titles or branches)
        assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}"
        if step.get("uses", "").startswith("actions/checkout"):
            assert step.get("with", {}).get("persist-credentials") is False


SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w.-]+)*@[0-9a-f]{40} # v\d+\.\d+\.\d+$")  # owner/repo[/path]@sha


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_actions_are_pinned_to_full_commits_with_the_version_in_a_comment(path: Path) -> None:
    uses = [line.split("uses:", 1)[1].strip() for line in path.read_text().splitlines() if "uses:" in line]
    assert uses
    for ref in uses:
        assert SHA_PIN.match(ref), ref


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_permissions_are_per_job_and_secrets_only_where_needed(path: Path) -> None:
    wf = load(path.read_bytes(), str(path)).data
    assert wf["permissions"] == {}
    for job in wf["jobs"].values():
        checks_out = any(str(s.get("uses", "")).startswith("actions/checkout@") for s in job["steps"])
        # a job reads the repository only when it checks it out (publish.yml's Pages deploy does not)
        assert "permissions" in job and job["permissions"].get("contents") == ("read" if checks_out else None)
        assert "${{" not in str(job.get("env", ""))  # no job-wide env: a secret reaches one step
        uses_secrets = [s for s in job["steps"] if "secrets." in str(s.get("env", ""))]
        if uses_secrets:  # secrets live in an environment, without a deployment record per run
            assert job["environment"]["deployment"] is False and job["environment"]["name"].startswith("mlgate-")


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_each_secret_reaches_one_step(path: Path) -> None:
    wf = load(path.read_bytes(), str(path)).data
    seen: dict[str, str] = {}
    for job in wf["jobs"].values():
        for step in job["steps"]:
            assert "secrets." not in str(step.get("with", "")) + step.get("run", "")  # only through env
            for name in re.findall(r"secrets\.(\w+)", str(step.get("env", ""))):
                assert name not in seen, f"{name} reaches {seen[name]!r} and {step.get('name')!r}"
                seen[name] = str(step.get("name"))


def test_validate_workflow_triggers_and_permissions() -> None:
    wf = workflow("validate.yml")
    assert set(wf["on"]) == {"pull_request", "pull_request_review", "merge_group"}  # `on` stays a string key
    assert wf["jobs"]["validate"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert wf["jobs"]["validate"]["name"] == "validate"  # the required status check's name


def test_validate_workflow_installs_mlgate_from_the_base_commit() -> None:
    s = steps(workflow("validate.yml"))
    checkouts = [x for x in s if x.get("uses", "").startswith("actions/checkout")]
    assert len(checkouts) == 1
    assert (
        checkouts[0]["with"]["ref"] == "${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}"
    )
    install = next(i for i, x in enumerate(s) if "pip install" in x.get("run", ""))
    assert s.index(checkouts[0]) < install
    # the head is fetched as objects only after the install, and never checked out
    later = " ".join(x.get("run", "") for x in s[install + 1 :])
    assert "git fetch" in later and "checkout" not in later and "switch" not in later
    assert "mlgate validate --forge github --comment" in later


def test_the_head_is_fetched_with_the_jobs_token_through_gits_environment() -> None:
    [fetch] = [x for x in steps(workflow("validate.yml")) if "git fetch" in x.get("run", "")]
    assert fetch["env"]["FETCH_TOKEN"] == "${{ github.token }}"  # not a secret, and only in this step
    assert "refs/pull/$PR_NUMBER/head" in fetch["run"]  # a fork's head, also in a private repository
    assert "GIT_CONFIG_VALUE_0" in fetch["run"] and "::add-mask::" in fetch["run"]
    assert "git -c" not in fetch["run"] and "git config" not in fetch["run"]  # never in argv or .git/config


def test_publish_workflow_runs_on_push_to_main_and_daily() -> None:
    wf = workflow("publish.yml")
    assert wf["on"]["push"] == {"branches": ["main"]}
    assert len(wf["on"]["schedule"]) == 1 and len(wf["on"]["schedule"][0]["cron"].split()) == 5  # re-sign before expiry
    # reads only: main, the previous run's index artifact, and the merged pull requests' reviews (approvers)
    reads = {"contents": "read", "actions": "read", "pull-requests": "read"}
    assert wf["jobs"]["publish"]["permissions"] == reads and wf["jobs"]["notify"]["permissions"] == reads
    assert wf["jobs"]["pages"]["permissions"] == {"pages": "write", "id-token": "write"}  # the only writer
    assert wf["concurrency"] == {
        "group": "mlgate-publish",
        "cancel-in-progress": False,
    }  # one signer at a time, none lost
    runs = " ".join(x.get("run", "") for x in steps(wf))
    assert "mlgate validate" in runs and "registry-index.json" in runs


def test_publish_workflow_signs_with_the_secret_through_env() -> None:
    s = steps(workflow("publish.yml"))
    checkout = next(x for x in s if x.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # the serial is the first-parent commit count: a shallow clone lies
    [sign] = [x for x in s if "mlgate index" in x.get("run", "")]
    assert sign["env"] == {"MLGATE_INDEX_KEY": "${{ secrets.MLGATE_INDEX_KEY }}"}
    assert "--key-env MLGATE_INDEX_KEY" in sign["run"] and "--ref" in sign["run"] and "--expires-in" in sign["run"]
    text = (WORKFLOWS / "publish.yml").read_text()
    assert text.count("secrets.MLGATE_INDEX_KEY") == 1  # the key reaches only the signing step


def test_codeowners_cover_the_policy_and_every_model() -> None:
    lines = [
        l.split()
        for l in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines()
        if l.strip() and not l.startswith("#")
    ]
    owners = {l[0]: l[1:] for l in lines}
    assert owners["/registry/policy.yaml"] == ["@acme/ml-platform"]
    for model in (ROOT / "registry" / "models").iterdir():
        assert f"/registry/models/{model.name}/" in owners, model.name
        wanted = load((model / "model.yaml").read_bytes(), "model.yaml").data["owners"]
        assert set(owners[f"/registry/models/{model.name}/"]) <= set(wanted)


def test_init_scaffolds_a_repository_that_validates(tmp_path: Path, capsys) -> None:
    repo = RegistryRepo.create(tmp_path / "r", example=False)
    (repo.root / "README.md").write_text("x\n")
    spec = "mlgate @ git+https://github.com/acme/mlgate@" + "c" * 40
    code = main(
        [
            "init",
            str(repo.root),
            "--admin",
            "@acme/platform",
            "--reviewer",
            "@acme/leads",
            "--reviewer",
            "carol",
            "--mlgate-requirement",
            spec,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "created .github/workflows/validate.yml" in out
    wf = workflow("validate.yml", repo.root)
    runs = [x.get("run", "") for x in steps(wf)]
    # pinned, read from the base checkout; then the github forge's extra
    assert (
        "python -m pip install -r .github/mlgate-requirements.txt\npython -m pip install 'mlgate[github]' "
        in "".join(runs)
    )
    assert re.search(
        r"^mlgate @ git\+https://\S+@[0-9a-f]{40}$", (repo.root / ".github/mlgate-requirements.txt").read_text(), re.M
    )
    # everything else is this repository's workflow, pins and permissions included
    shipped = (WORKFLOWS / "validate.yml").read_text().splitlines()
    written = (repo.root / ".github/workflows/validate.yml").read_text().splitlines()

    def kept(lines: list[str]) -> list[str]:  # all but the install step (one line or a `run: |` block)
        return [l for l in lines if "nstall" not in l and l.strip() != "run: |"]

    assert kept(written) == kept(shipped)
    policy = repo.read_yaml("registry/policy.yaml")
    assert policy["admins"] == ["@acme/platform"]
    assert policy["aliases"]["champion"]["approvals"]["from"] == ["@acme/leads", "carol"]
    assert "/registry/policy.yaml   @acme/platform" in (repo.root / ".github/CODEOWNERS").read_text()
    repo.commit("Set up mlgate")
    assert main(["-C", str(repo.root), "validate"]) == 0


def test_init_refuses_to_overwrite_anything(tmp_path: Path, capsys) -> None:
    repo = RegistryRepo.create(tmp_path / "r", example=False)
    repo.write(".github/CODEOWNERS", "* @me\n")
    repo.commit("codeowners")
    before = repo.status()
    code = main(
        ["init", str(repo.root), "--mlgate-requirement", "mlgate @ git+https://github.com/acme/mlgate@" + "c" * 40]
    )
    _, err = capsys.readouterr()
    assert code == 2 and "refusing to overwrite: .github/CODEOWNERS already exists; nothing was written" in err
    assert repo.status() == before
    code = main(["init", str(tmp_path / "nope")])  # no such folder: created only with --git-init
    assert code == 2 and "nope is not a git repository: pass --git-init" in capsys.readouterr()[1]
    (tmp_path / "file").write_text("x")
    code = main(["init", str(tmp_path / "file"), "--git-init"])
    assert code == 2 and "file' is a file" in capsys.readouterr()[1]


def test_shipped_templates_are_this_repositorys_files() -> None:
    assert (github_dir() / "workflows" / "validate.yml").read_bytes() == (WORKFLOWS / "validate.yml").read_bytes()


def test_init_names_a_bad_admin(tmp_path: Path, capsys) -> None:
    repo = RegistryRepo.create(tmp_path / "r", example=False)
    assert main(["init", str(repo.root), "--admin", "bad name"]) == 2
    assert "--admin/--reviewer: 'bad name' is not a user login or an @org/team" in capsys.readouterr()[1]
    assert not repo.path("registry").exists()


def _tool(name: str) -> str:
    """A console script of the test extra: beside this Python first (an unactivated venv), else on PATH."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is missing: pip install -e '.[test]'"
    return found


@pytest.mark.parametrize(
    "pin",
    ["", "mlgate @ git+https://github.com/acme/mlgate@" + "0" * 40, "mlgate==0.1.0 --hash=sha256:" + "a" * 64],
    ids=["this-repository", "git-pin", "hash-pin"],
)
def test_zizmor_and_githubs_schema_accept_the_workflows(tmp_path: Path, pin: str) -> None:
    """What .ci/run checks, here too: zizmor (offline, auditor persona) finds nothing above informational."""
    import subprocess

    folder = WORKFLOWS
    if pin:
        repo = RegistryRepo.create(tmp_path / "r", example=False)
        assert main(["init", str(repo.root), "--mlgate-requirement", pin]) == 0
        folder = repo.root / ".github" / "workflows"
    z = subprocess.run(
        [
            _tool("zizmor"),
            "--offline",
            "--no-progress",
            "--persona",
            "auditor",
            "--min-severity",
            "low",
            "--format",
            "json",
            str(folder),
        ],
        capture_output=True,
        text=True,
    )
    assert z.returncode == 0 and json.loads(z.stdout) == [], z.stdout + z.stderr
    files = sorted(str(p) for p in folder.glob("*.yml"))
    s = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
    )
    assert s.returncode == 0, s.stdout + s.stderr
