"""`mlgate init` pins the mlgate its workflows install: the way it was installed, or what the user says, never a bare name.

The installation records are real ``*.dist-info`` folders (METADATA, and PEP 610's direct_url.json as pip writes
it) built in a temporary folder and read through :mod:`importlib.metadata`.
"""

from __future__ import annotations

import json
from importlib.metadata import PathDistribution
from pathlib import Path

import pytest

from mlgate.change.scaffold import parse_requirement, pin_from_distribution, scaffold
from mlgate.cli import main
from mlgate.errors import UsageError
from mlgate.infra.yamlio import load
from mlgate.testing import RegistryRepo

COMMIT = "3f2a9c1d0e4b5a69788796a5b4c3d2e1f0a9b8c7"
DIGEST = "f4c07291371ba386af0a0088932a63f8ac78dfec41fbd9003f363da89487376d"
WHEEL = "https://files.pythonhosted.org/packages/ab/cd/mlgate-0.4.0-py3-none-any.whl"


def installed(tmp_path: Path, direct_url: dict | str | None, version: str = "0.4.0") -> PathDistribution:
    """An installed mlgate's metadata, as pip leaves it in site-packages."""
    info = tmp_path / f"mlgate-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: mlgate\nVersion: {version}\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(direct_url if isinstance(direct_url, str) else json.dumps(direct_url))
    return PathDistribution(info)


def git_install(url: str = "https://github.com/acme/mlgate", commit: str = COMMIT, **extra: object) -> dict:
    return {"url": url, "vcs_info": {"vcs": "git", "commit_id": commit, "requested_revision": "v0.4.0"}, **extra}


# --- pinning from the installation record -------------------------------------------------------------------


def test_a_git_install_is_pinned_to_its_full_commit(tmp_path: Path) -> None:
    pin = pin_from_distribution(installed(tmp_path, git_install()))
    assert pin.requirement == f"mlgate @ git+https://github.com/acme/mlgate@{COMMIT}"
    assert not pin.hashed


def test_a_git_install_over_ssh_from_a_subdirectory(tmp_path: Path) -> None:
    pin = pin_from_distribution(
        installed(tmp_path, git_install("ssh://git@github.com/acme/tools", subdirectory="mlgate"))
    )
    assert pin.requirement == f"mlgate @ git+ssh://git@github.com/acme/tools@{COMMIT}#subdirectory=mlgate"


def test_an_archive_with_a_recorded_hash_is_pinned_by_url_and_hash(tmp_path: Path) -> None:
    pin = pin_from_distribution(
        installed(tmp_path, {"url": WHEEL, "archive_info": {"hash": f"sha256={DIGEST}", "hashes": {"sha256": DIGEST}}})
    )
    assert pin.requirement == f"mlgate @ {WHEEL} --hash=sha256:{DIGEST}"
    assert pin.hashed


def test_an_archive_with_only_the_legacy_hash_field(tmp_path: Path) -> None:
    pin = pin_from_distribution(installed(tmp_path, {"url": WHEEL, "archive_info": {"hash": f"sha256={DIGEST}"}}))
    assert pin.requirement.endswith(f"--hash=sha256:{DIGEST}")


@pytest.mark.parametrize(
    ("record", "why"),
    [
        (None, "mlgate 0.4.0 was installed from a package index, which keeps no record of the file's hash"),
        (
            {"url": "file:///home/me/mlgate", "dir_info": {"editable": True}},
            "mlgate 0.4.0 is an editable install of file:///home/me/mlgate, a working tree that CI cannot install",
        ),
        (
            {"url": "file:///home/me/mlgate", "dir_info": {}},
            "mlgate 0.4.0 was installed from the folder file:///home/me/mlgate, which CI cannot install",
        ),
        ({"url": WHEEL, "archive_info": {}}, f"mlgate 0.4.0 was installed from {WHEEL} with no recorded sha256"),
        (
            {"url": "file:///tmp/dist/mlgate-0.4.0-py3-none-any.whl", "archive_info": {"hashes": {"sha256": DIGEST}}},
            "it was installed from the local file file:///tmp/dist/mlgate-0.4.0-py3-none-any.whl, which CI cannot reach",
        ),
        (git_install("file:///home/me/mlgate"), "it was installed from the local repository file:///home/me/mlgate"),
        (git_install("https://me:hunter2@git.example/mlgate"), "a URL with credentials"),
        (git_install(commit="v0.4.0"), "came from git at 'v0.4.0'; init pins only a git commit"),
        ({"url": "https://hg.example/mlgate", "vcs_info": {"vcs": "hg", "commit_id": COMMIT}}, "came from hg"),
        ("{not json", "(direct_url.json) is unreadable"),
        ({"url": WHEEL}, "names no git commit or archive"),
    ],
    ids=[
        "index",
        "editable",
        "folder",
        "archive-no-hash",
        "local-file",
        "local-git",
        "credentials",
        "tag",
        "hg",
        "bad-json",
        "nothing",
    ],
)
def test_what_cannot_be_pinned_is_refused_with_the_reason(tmp_path: Path, record, why: str) -> None:
    with pytest.raises(UsageError) as info:
        pin_from_distribution(installed(tmp_path, record))
    message = str(info.value)
    assert message.startswith("cannot pin the mlgate the workflows install: ") and why in message
    assert "pass --mlgate-requirement SPEC" in message and "\n" not in message
    assert "hunter2" not in message


# --- an explicit requirement ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "hashed"),
    [
        (f"mlgate==0.4.0 --hash=sha256:{DIGEST}", True),
        (f"mlgate==0.4.0  --hash=sha256:{DIGEST} --hash=sha256:{'0' * 64}", True),
        (f"mlgate @ git+https://github.com/acme/mlgate@{COMMIT}", False),
        (f"acme-mlgate @ {WHEEL} --hash=sha256:{DIGEST}", True),
    ],
)
def test_immutable_requirements_are_accepted(spec: str, hashed: bool) -> None:
    pin = parse_requirement(spec)
    assert pin.hashed is hashed and pin.requirement == " ".join(spec.split())


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("mlgate", "not an immutable pin"),
        ("mlgate>=0.4", "not an immutable pin"),
        ("mlgate==0.4.0", "a version alone is not immutable"),
        ("mlgate @ git+https://github.com/acme/mlgate@v0.4.0", "full commit SHA"),
        ("mlgate @ git+https://github.com/acme/mlgate", "full commit SHA"),
        (
            f"mlgate @ git+https://github.com/acme/mlgate@{COMMIT} --hash=sha256:{DIGEST}",
            "pip cannot check --hash for a git URL",
        ),
        (f"mlgate @ https://x:tok@host.example/mlgate.whl --hash=sha256:{DIGEST}", "carries credentials"),
        (f"mlgate @ {WHEEL}", "https:// URL with --hash"),
        (f"mlgate @ http://host.example/mlgate.whl --hash=sha256:{DIGEST}", "https:// URL with --hash"),
        ("mlgate==0.4.0 --hash=md5:0123", "is not a --hash=sha256"),
        (f"mlgate==0.4.0 --index-url=https://evil.example --hash=sha256:{DIGEST}", "no other pip options"),
        (f"mlgate==0.4.0 --hash=sha256:{DIGEST}\n-e .", "one requirement on one line"),
        ("", "one requirement on one line"),
    ],
)
def test_mutable_or_odd_requirements_are_refused(spec: str, why: str) -> None:
    with pytest.raises(UsageError, match="--mlgate-requirement") as info:
        parse_requirement(spec)
    assert why in str(info.value)


# --- what init writes --------------------------------------------------------------------------------------------


def _steps(root: Path, name: str) -> list[dict]:
    path = root / ".github" / "workflows" / name
    wf = load(path.read_bytes(), str(path)).data
    return [s for job in wf["jobs"].values() for s in job["steps"]]


def test_init_from_a_git_install_writes_the_commit_and_plain_pip(tmp_path: Path) -> None:
    repo = RegistryRepo.create(tmp_path / "r", example=False)
    scaffold(repo.root, admins=["@acme/platform"], distribution=installed(tmp_path, git_install()))
    lines = (repo.root / ".github/mlgate-requirements.txt").read_text().splitlines()
    assert [l for l in lines if not l.startswith("#")] == [f"mlgate @ git+https://github.com/acme/mlgate@{COMMIT}"]
    # both workflows use the github forge (validate's gate; publish's catalog approvers and notify), which needs
    # the `github` extra: added to the pinned mlgate, which stays
    for name, jobs in (("validate.yml", 1), ("publish.yml", 2)):
        installs = [s["run"] for s in _steps(repo.root, name) if "pip install" in s.get("run", "")]
        assert len(installs) == jobs
        for install in installs:
            first, second = install.splitlines()
            assert first == "python -m pip install -r .github/mlgate-requirements.txt"
            assert second.startswith("python -m pip install 'mlgate[github]' ")
    for name in ("validate.yml", "publish.yml"):
        assert "install ." not in (repo.root / ".github/workflows" / name).read_text()


def test_init_from_an_archive_checks_the_hash_then_adds_the_dependencies(tmp_path: Path) -> None:
    repo = RegistryRepo.create(tmp_path / "r", example=False)
    dist = installed(tmp_path, {"url": WHEEL, "archive_info": {"hashes": {"sha256": DIGEST}}})
    scaffold(repo.root, distribution=dist)
    assert f"mlgate @ {WHEEL} --hash=sha256:{DIGEST}\n" in (repo.root / ".github/mlgate-requirements.txt").read_text()
    for name, jobs in (("validate.yml", 1), ("publish.yml", 2)):
        installs = [s for s in _steps(repo.root, name) if "pip install" in s.get("run", "")]
        assert len(installs) == jobs
        for install in installs:
            first, second = install["run"].splitlines()
            assert first == "python -m pip install --require-hashes --no-deps -r .github/mlgate-requirements.txt"
            # the github forge's extra; the hash-checked copy stays: no --upgrade
            assert second.startswith("python -m pip install 'mlgate[github]' ")
            assert install["name"] == "Install the mlgate pinned in .github/mlgate-requirements.txt"


def test_an_explicit_requirement_wins_over_the_installation(tmp_path: Path) -> None:
    repo = RegistryRepo.create(tmp_path / "r", example=False)
    spec = f"mlgate==0.4.0 --hash=sha256:{DIGEST}"
    scaffold(repo.root, requirement=spec, distribution=installed(tmp_path, None))
    assert (repo.root / ".github/mlgate-requirements.txt").read_text().endswith(spec + "\n")


def test_init_refuses_before_writing_anything(tmp_path: Path) -> None:
    repo = RegistryRepo.create(tmp_path / "r", example=False)
    before = repo.status()
    with pytest.raises(UsageError, match="editable install"):
        scaffold(repo.root, distribution=installed(tmp_path, {"url": "file:///src", "dir_info": {"editable": True}}))
    assert repo.status() == before and not (repo.root / "registry").exists()


def test_the_cli_refuses_in_one_line_and_takes_the_option(tmp_path: Path, capsys) -> None:
    repo = RegistryRepo.create(tmp_path / "r", example=False)
    # the test suite runs from an editable install: exactly what cannot be pinned
    assert main(["init", str(repo.root)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("mlgate: error: cannot pin the mlgate the workflows install: ")
    assert "--mlgate-requirement SPEC" in err
    assert main(["init", str(repo.root), "--mlgate-requirement", "mlgate==0.1.0"]) == 2
    assert "a version alone is not immutable" in capsys.readouterr()[1]
    spec = f"mlgate @ git+https://github.com/acme/mlgate@{COMMIT}"
    assert main(["init", str(repo.root), "--mlgate-requirement", spec]) == 0
    assert "created .github/mlgate-requirements.txt" in capsys.readouterr()[0]


def test_the_init_help_example_works(tmp_path: Path, capsys) -> None:
    from mlgate.cli import cli

    example = "\n".join(cli.commands["init"].examples)
    spec = example.split("--mlgate-requirement")[1].replace("\\", " ").split("'")[1]
    repo = RegistryRepo.create(tmp_path / "r", example=False)
    assert main(["init", str(repo.root), "--admin", "alice", "--mlgate-requirement", spec]) == 0, capsys.readouterr()[1]
