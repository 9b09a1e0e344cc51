"""Fixtures shared by every layer's tests: an isolated git environment and no network (both autouse), real
registry repositories, the local forge and the GitHub stand-in, the command line, and a count of the processes
a test starts. Builders a user of mlgate would want too live in :mod:`mlgate.testing`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlgate.forge.local import LocalForge
from mlgate.infra.resources import example_registry_dir
from mlgate.testing import RegistryRepo, local_forge
from mlgate.testing.github import StandIn

#: what ``run_cli`` returns: the exit code, stdout and stderr
Ran = tuple[int, str, str]


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config leaks in; a fixed identity; no network."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_TOKEN", "MLGATE_FORGE", "MLGATE_USER"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to 127.0.0.1 at most."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("/"):
            raise OSError(f"network access to {host!r} is blocked in tests")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[RegistryRepo]:
    """A git repository with the example registry committed on main."""
    r = RegistryRepo.create(tmp_path / "repo")
    yield r
    r.close()


@pytest.fixture
def example_files() -> list[str]:
    """Every file of the example registry (the source of what ``repo`` holds), as paths in the repository."""
    root = example_registry_dir()
    return sorted(f"registry/{p.relative_to(root).as_posix()}" for p in root.rglob("*") if p.is_file())


@pytest.fixture
def forge(repo: RegistryRepo) -> LocalForge:
    """The local forge of ``repo``, with the teams the example policy names (dave and erin lead ML, pat is an
    admin)."""
    return local_forge(repo.root)


@pytest.fixture
def gh() -> Iterator[StandIn]:
    """The GitHub REST stand-in, serving acme/registry on 127.0.0.1."""
    with StandIn() as server:
        yield server


@pytest.fixture
def gh_env(gh: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The stand-in, with GitHub Actions' variables (token, API URL, repository) pointing at it."""
    for name, value in gh.environment().items():
        monkeypatch.setenv(name, value)
    return gh


@pytest.fixture
def actions_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``actions_event(payload, name=None)``: the event GitHub Actions would hand a workflow, written to a file
    that GITHUB_EVENT_PATH (and, given a name, GITHUB_EVENT_NAME) points at."""

    def write(payload: dict[str, object], name: str | None = None) -> Path:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(payload))
        monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
        if name is not None:
            monkeypatch.setenv("GITHUB_EVENT_NAME", name)
        return path

    return write


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """``mlgate ARGS`` in this process: the exit code, stdout and stderr, never a traceback or an internal error."""
    from mlgate.cli import main

    def run(*args: str | os.PathLike[str]) -> Ran:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err and "internal error" not in err, err
        return code, out, err

    return run


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The command line of every process the test starts from here on (subprocess.Popen, which git runs use)."""
    started: list[list[str]] = []
    real = subprocess.Popen

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, args, *a, **kw):  # noqa: ANN001
            started.append([args] if isinstance(args, (str, bytes)) else [str(x) for x in args])
            super().__init__(args, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", Counting)
    return started
