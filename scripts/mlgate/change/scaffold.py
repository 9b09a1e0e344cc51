"""``mlgate init``: the files a repository needs to become an mlgate registry.

The workflows it writes install an immutable mlgate: the running one, pinned the
way it was installed (PEP 610's ``direct_url.json``: a git URL with its full
commit, or an archive URL with its sha256), or the requirement the user gives.
A bare name or a version alone would let whoever publishes that name run code
next to the workflow's token, so anything else is refused.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from mlgate.change.starter import policy_text
from mlgate.core import layout
from mlgate.errors import UsageError
from mlgate.infra.files import write_atomic
from mlgate.infra.git import GitRepo
from mlgate.infra.resources import github_dir

#: the shipped workflows' install step: the checkout itself, with the extra the workflow needs (validate.yml's
#: github forge) or none
INSTALL_FROM_CHECKOUT = r"^( *)run: python -m pip install (?:\.|'\.\[([a-z]+)\]')$"
REQUIREMENTS = ".github/mlgate-requirements.txt"
INSTALL_PINNED = f"run: python -m pip install -r {REQUIREMENTS}"
PLACEHOLDER_ADMIN = "@OWNER/ml-platform"
EXAMPLE_SPECS = (
    "'mlgate @ git+https://github.com/OWNER/mlgate@FULL_COMMIT_SHA'",
    "'mlgate==VERSION --hash=sha256:DIGEST'",
)

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})")
_EXACT = re.compile(rf"({_NAME})==([A-Za-z0-9][A-Za-z0-9.+!_-]*)")
_AT_URL = re.compile(rf"({_NAME}) @ (\S+)")
_GIT_URL = re.compile(
    r"git\+(?:https|ssh)://(?:git@)?[^\s@#]+@(?:[0-9a-f]{40}|[0-9a-f]{64})(?:#subdirectory=[\w./-]+)?"
)


@dataclass(frozen=True)
class Pin:
    """One immutable pip requirement for the mlgate the workflows install.

    ``hashed``: pip checks the downloaded file against ``--hash`` entries (archives);
    otherwise the requirement names a full git commit.
    """

    requirement: str
    name: str
    hashed: bool


def parse_requirement(spec: str) -> Pin:
    """Check that ``spec`` (one requirements-file line) pins one immutable mlgate; raise UsageError if not.

    Accepted: ``NAME==VERSION --hash=sha256:HEX...``, ``NAME @ https://URL --hash=sha256:HEX...`` and
    ``NAME @ git+https://URL@FULL_COMMIT`` (optionally ``#subdirectory=PATH``).
    """
    text = " ".join(spec.split())
    if not text or any(ord(c) < 32 and c != " " for c in spec):
        raise UsageError(
            f"--mlgate-requirement {spec!r}: expected one requirement on one line, e.g. {EXAMPLE_SPECS[0]}"
        )
    words = text.split(" ")
    hashes = [w for w in words if w.startswith("--")]
    head = " ".join(w for w in words if not w.startswith("--"))
    if any(not _HASH.fullmatch(h) for h in hashes):
        bad = next(h for h in hashes if not _HASH.fullmatch(h))
        raise UsageError(
            f"--mlgate-requirement {spec!r}: {bad!r} is not a --hash=sha256:<64 hex digits> entry "
            "(no other pip options are allowed)"
        )
    if m := _EXACT.fullmatch(head):
        if not hashes:
            raise UsageError(
                f"--mlgate-requirement {spec!r}: a version alone is not immutable (anyone who can publish "
                f"{m.group(1)} {m.group(2)} to the index decides what runs): add --hash=sha256:DIGEST of the file"
            )
        return Pin(text, m.group(1), hashed=True)
    if m := _AT_URL.fullmatch(head):
        url = m.group(2)
        userinfo = urlsplit(url.removeprefix("git+")).username
        if userinfo not in (None, "git") or urlsplit(url.removeprefix("git+")).password is not None:
            raise UsageError(
                "--mlgate-requirement: the URL carries credentials, which must never be written into the "
                "repository; the workflow's token or a public URL must do"
            )
        if _GIT_URL.fullmatch(url):
            if hashes:
                raise UsageError(
                    f"--mlgate-requirement {spec!r}: pip cannot check --hash for a git URL; the full commit pins it"
                )
            return Pin(text, m.group(1), hashed=False)
        if url.startswith("git+"):
            raise UsageError(
                f"--mlgate-requirement {spec!r}: a git URL must end in @ and a full commit SHA "
                "(40 hex digits), not a branch or tag, which can move"
            )
        if url.startswith("https://") and hashes:
            return Pin(text, m.group(1), hashed=True)
        raise UsageError(f"--mlgate-requirement {spec!r}: an archive must be an https:// URL with --hash=sha256:DIGEST")
    raise UsageError(f"--mlgate-requirement {spec!r}: not an immutable pin; use {' or '.join(EXAMPLE_SPECS)}")


def _refuse(reason: str) -> UsageError:
    return UsageError(
        f"cannot pin the mlgate the workflows install: {reason}; pass --mlgate-requirement SPEC, "
        f"e.g. {' or '.join(EXAMPLE_SPECS)}"
    )


def _public_url(url: str, what: str) -> str:
    """``url`` if CI could fetch it and it carries no credentials (which must never be written into git)."""
    parts = urlsplit(url)
    if parts.scheme == "file" or not parts.netloc:
        raise _refuse(f"{what} {url}, which CI cannot reach")
    if parts.password is not None or (parts.username is not None and parts.username != "git"):
        raise _refuse(f"{what} a URL with credentials, which init will not write into the repository")
    return url


def pin_from_distribution(dist: metadata.Distribution | None = None) -> Pin:
    """The running mlgate pinned the way it was installed (PEP 610 ``direct_url.json``), or UsageError saying why not.

    ``dist`` defaults to the installed ``mlgate`` distribution; tests pass metadata they built.
    """
    if dist is None:
        try:
            dist = metadata.distribution("mlgate")
        except metadata.PackageNotFoundError:
            raise _refuse("this mlgate runs without installation metadata (from a source tree?)") from None
    name, version = dist.metadata["Name"] or "mlgate", dist.version
    raw = dist.read_text("direct_url.json")
    if raw is None:
        raise _refuse(f"{name} {version} was installed from a package index, which keeps no record of the file's hash")
    try:
        info = json.loads(raw)
        url = info["url"]
        if not isinstance(info, dict) or not isinstance(url, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise _refuse(f"the installation record of {name} {version} (direct_url.json) is unreadable") from None
    if isinstance(info.get("dir_info"), dict):
        if info["dir_info"].get("editable"):
            raise _refuse(f"{name} {version} is an editable install of {url}, a working tree that CI cannot install")
        raise _refuse(f"{name} {version} was installed from the folder {url}, which CI cannot install")
    sub = info.get("subdirectory")
    fragment = f"#subdirectory={sub}" if isinstance(sub, str) and sub else ""
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict):
        commit = vcs.get("commit_id")
        if (
            vcs.get("vcs") != "git"
            or not isinstance(commit, str)
            or not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit)
        ):
            raise _refuse(f"{name} {version} came from {vcs.get('vcs')} at {commit!r}; init pins only a git commit")
        return parse_requirement(
            f"{name} @ git+{_public_url(url, 'it was installed from the local repository')}@{commit}{fragment}"
        )
    archive = info.get("archive_info")
    if isinstance(archive, dict):
        hashes = listed if isinstance(listed := archive.get("hashes"), dict) else {}
        legacy = archive.get("hash")
        if not hashes and isinstance(legacy, str) and "=" in legacy:
            algo, _, value = legacy.partition("=")
            hashes = {algo: value}
        digest = hashes.get("sha256")
        if not isinstance(digest, str):
            raise _refuse(f"{name} {version} was installed from {url} with no recorded sha256")
        return parse_requirement(
            f"{name} @ {_public_url(url, 'it was installed from the local file')} --hash=sha256:{digest}"
        )
    raise _refuse(f"the installation record of {name} {version} (direct_url.json) names no git commit or archive")


def _requirements_file(pin: Pin) -> str:
    how = (
        "pip checks the file against the hash (--require-hashes),\n# then adds mlgate's dependencies from its metadata"
        if pin.hashed
        else "a full git commit, which nobody can move"
    )
    return (
        "# The mlgate that judges pull requests and signs the index, read from the base branch\n"
        f"# by .github/workflows/. Immutable: {how}.\n"
        "# Change it by pull request (the policy's admins approve it).\n"
        f"{pin.requirement}\n"
    )


def _install_step(workflow: str, pin: Pin) -> str:
    """The shipped workflow, installing the pinned mlgate instead of the checkout (with the extra it installs:
    validate.yml's ``'.[github]'`` for the github forge becomes ``'mlgate[github]'``)."""
    workflow = re.sub(
        r"^( *- name: )Install mlgate.*$", rf"\1Install the mlgate pinned in {REQUIREMENTS}", workflow, flags=re.M
    )

    def pinned(m: re.Match[str]) -> str:
        pad = m.group(1) + "  "
        extra = m.group(2)
        if not pin.hashed and not extra:
            return f"{m.group(1)}{INSTALL_PINNED}"
        if pin.hashed:
            # pip's hash-checking mode needs a hash for every requirement, dependencies included: mlgate alone is
            # installed by hash; naming it again then makes pip keep that copy (no --upgrade) and add its
            # dependencies (and the extra's).
            first = f"python -m pip install --require-hashes --no-deps -r {REQUIREMENTS}"
            why = f"only its dependencies: the hash-checked {pin.name} stays"
        else:
            first = INSTALL_PINNED.removeprefix("run: ")
            why = f"only the extra's dependencies: the pinned {pin.name} stays"
        second = f"'{pin.name}[{extra}]'" if extra else pin.name
        return f"{m.group(1)}run: |\n{pad}{first}\n{pad}python -m pip install {second}   # {why}"

    return re.sub(INSTALL_FROM_CHECKOUT, pinned, workflow, flags=re.M)


def _codeowners(admins: Sequence[str], reviewers: Sequence[str]) -> str:
    return (
        "# Reviews GitHub requests (and, with 'Require review from Code Owners', requires).\n"
        f"/registry/policy.yaml   {' '.join(admins)}\n"
        f"/registry/notifications.yaml   {' '.join(admins)}\n"
        f"/.github/               {' '.join(admins)}\n"
        f"/registry/models/       {' '.join(reviewers)}\n"
        "# Give each model its owners, e.g.:\n"
        "# /registry/models/fraud-detector/   @acme/fraud-ml\n"
    )


def _on_branch(workflow: str, branch: str) -> str:
    """publish.yml runs on pushes to the registry's branch, whatever its name."""
    return workflow if branch == "main" else re.sub(r"\bmain\b", branch, workflow)


def planned_files(
    admins: Sequence[str],
    reviewers: Sequence[str],
    pin: Pin,
    *,
    metrics: Mapping[str, Mapping[str, Any]] | None = None,
    branch: str = "main",
) -> dict[str, str]:
    """Every file ``init`` writes, by path, with its text."""
    shipped = github_dir()
    workflow = (shipped / "workflows" / "validate.yml").read_text()
    publish = (shipped / "workflows" / "publish.yml").read_text()
    if not (re.search(INSTALL_FROM_CHECKOUT, workflow, re.M) and re.search(INSTALL_FROM_CHECKOUT, publish, re.M)):
        raise UsageError("the shipped workflows have no install step to adapt (a packaging bug)")
    return {
        f"{layout.REGISTRY}/policy.yaml": policy_text(admins, reviewers, metrics),
        f"{layout.MODELS}/.gitkeep": "",
        ".github/workflows/validate.yml": _install_step(workflow, pin),
        ".github/workflows/publish.yml": _on_branch(_install_step(publish, pin), branch),
        REQUIREMENTS: _requirements_file(pin),
        ".github/CODEOWNERS": _codeowners(admins, reviewers),
        ".github/pull_request_template.md": (shipped / "pull_request_template.md").read_text(),
    }


def _symlink_on_the_way(root: Path, rel: str) -> str | None:
    """The first folder on the way to ``rel`` (inside ``root``) that is a symlink, if any."""
    parts = rel.split("/")
    for i in range(1, len(parts)):
        if (root / "/".join(parts[:i])).is_symlink():
            return "/".join(parts[:i])
    return None


def plan(
    directory: str | os.PathLike[str],
    admins: Sequence[str] = (),
    reviewers: Sequence[str] = (),
    *,
    requirement: str | None = None,
    distribution: metadata.Distribution | None = None,
    metrics: Mapping[str, Mapping[str, Any]] | None = None,
    branch: str = "main",
) -> dict[str, str]:
    """The files :func:`scaffold` would write into ``directory`` (which need not exist yet), after every check
    that can refuse: the admins and reviewers, the pin, the metric bounds, symlinks, files already there."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{directory} is not a folder")
    admins = tuple(admins) or (PLACEHOLDER_ADMIN,)
    reviewers = tuple(reviewers) or admins
    from mlgate.infra.schemas import errors

    problems = list(
        errors(
            "Policy",
            {
                "apiVersion": "mlgate/v1",
                "kind": "Policy",
                "admins": list(admins),
                "aliases": {"*": {"approvals": {"min": 1, "from": list(reviewers)}}},
            },
        )
    )
    if problems:
        raise UsageError(f"--admin/--reviewer: {problems[0].instance!r} is not a user login or an @org/team")
    pin = parse_requirement(requirement) if requirement is not None else pin_from_distribution(distribution)
    files = planned_files(admins, reviewers, pin, metrics=metrics, branch=branch)
    linked = sorted({link for p in files if (link := _symlink_on_the_way(root, p))})
    if linked:
        raise UsageError(
            f"refusing to write through a symlink: {', '.join(linked)} "
            f"{'is a symlink' if len(linked) == 1 else 'are symlinks'}; nothing was written"
        )
    existing = [p for p in files if (root / p).exists() or (root / p).is_symlink()]
    if existing:
        raise UsageError(
            f"refusing to overwrite: {', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; nothing was written"
        )
    return files


def write_files(directory: str | os.PathLike[str], files: Mapping[str, str]) -> list[str]:
    """Write the planned ``files`` under ``directory``, each atomically; their paths, in order."""
    written = []
    for rel, text in files.items():
        write_atomic(Path(directory) / rel, text, durable=False)
        written.append(rel)
    return written


def scaffold(
    directory: str | os.PathLike[str],
    admins: Sequence[str] = (),
    reviewers: Sequence[str] = (),
    *,
    requirement: str | None = None,
    distribution: metadata.Distribution | None = None,
    metrics: Mapping[str, Mapping[str, Any]] | None = None,
    branch: str = "main",
) -> list[str]:
    """Write the registry skeleton into the git repository at ``directory``; refuse if any file exists.

    The workflows install ``requirement`` (checked by :func:`parse_requirement`) or, without one, the
    running mlgate as :func:`pin_from_distribution` pins it from ``distribution`` (default: the installed one).
    ``metrics`` bound the champion gate (:func:`mlgate.change.starter.parse_metrics`); publish.yml runs on
    pushes to ``branch``. :func:`mlgate.change.bootstrap.init_registry` does the rest of ``mlgate init``
    (``git init``, the registry's branch, the first commit).
    """
    if not Path(directory).is_dir():
        raise UsageError(f"{directory} is not a folder")
    GitRepo(directory)  # must be a git repository
    files = plan(
        directory,
        admins,
        reviewers,
        requirement=requirement,
        distribution=distribution,
        metrics=metrics,
        branch=branch,
    )
    return write_files(directory, files)
