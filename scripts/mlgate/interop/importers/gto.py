"""``mlgate import gto``: a GTO repository (its git tags and ``artifacts.yaml``) as mlgate manifests, in one pull
request.

GTO (iterative/gto) keeps a registry in git tags, following this grammar (``gto/constants.py``'s ``tag_re``,
``gto/tag.py``'s templates)::

    NAME@vX.Y.Z[#N]      register version vX.Y.Z (semantic version) at the tagged commit
    NAME@vX.Y.Z![#N]     deregister it
    NAME#STAGE[#N]       assign STAGE to the version registered at the tagged commit
    NAME#STAGE![#N]      unassign it
    NAME@deprecated[#N]  deprecate the whole artifact (NAME@created: create it)

``NAME`` may carry a folder (``dir:name`` in GTO, ``dir=name`` in the tag). Only annotated tags count (GTO
ignores lightweight ones), in the order of their tagger dates. A stage is held by the version it was most
recently assigned to and not unassigned from (GTO's default of one version per stage).

How GTO maps onto mlgate:

- versions are numbered 1, 2, ... in semantic-version order; the GTO version is kept in the version's tags
  (``imported.version: v1.2.0``) and the mapping is listed; a re-run finds the versions it imported by that
  tag and numbers new ones after them;
- the artifact is ``path`` of the artifact's entry in ``artifacts.yaml`` (else in ``dvc.yaml``'s ``artifacts:``,
  where GTO with DVC annotates them) at the registration tag's commit
  (a file or a folder, copied from git to the store with its sha256); a virtual artifact (``virtual: true``,
  a URI, a DVC- or LFS-tracked file) has no bytes in git and is listed as not imported;
- ``lineage.git_sha`` is the registration commit, ``code_repo`` the repository's origin; GTO records no run,
  data set or metrics (placeholders, listed; no eval.yaml);
- stages become aliases: ``--stage STAGE=ALIAS``, else the policy's ``stages:`` mapping read without case
  (``production`` -> champion, ``staging`` -> challenger by default), with ``prod`` read as ``production``,
  else the stage name itself when it is a valid mlgate alias name; each mapping is listed;
- deregistered versions are not imported; a deprecated artifact's versions are deprecated;
- the tag history of the stages (who assigned or unassigned which stage, when, from the tagger and date) is
  the report's stage history.
"""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.core import layout
from mlgate.core.times import normalize
from mlgate.errors import InputError, MlgateError, UsageError
from mlgate.forge import Forge
from mlgate.infra.git import GitRepo
from mlgate.infra.yamlio import load
from mlgate.interop.importers.common import (
    PLACEHOLDER_URI,
    AliasIn,
    ImportResult,
    ModelIn,
    Note,
    VersionIn,
    alias_problem,
    check_collisions,
    is_uri,
    map_name,
    placeholder_sha256,
    policy_stages,
    run_import,
    safe_uri,
)

SOURCE = "gto"

# GTO's tag grammar, as gto/constants.py writes it (1.x): names, semantic versions, stages, counters
_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_SEMVER = (
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_FULLNAME_IN_TAG = rf"(?:[a-zA-Z0-9-_./]+=)?{_NAME}"
TAG_RE = re.compile(
    rf"^(?P<artifact>{_FULLNAME_IN_TAG})"
    rf"(((#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?))|@((?P<deprecated>deprecated)|(?P<created>created)))"
    r"(#(?P<counter>[0-9]+))?\Z"
)
_INDEX = "artifacts.yaml"
_CONFIG = ".gto"
_DVC = "dvc.yaml"


@dataclass(frozen=True)
class Tag:
    """One annotated GTO tag: what it does, to which artifact, where, by whom and when."""

    name: str
    artifact: str
    action: str  # register, deregister, assign, unassign, deprecate, create
    commit: str
    time: str
    by: str
    version: str | None = None
    stage: str | None = None
    counter: int = 0  # GTO's #N: increases with every tag of the artifact (orders tags of the same second)

    @property
    def order(self) -> tuple[str, int, str]:
        return (self.time, self.counter, self.name)


def parse_tag(name: str) -> dict[str, str] | None:
    """The parts of a GTO tag name (artifact, action, version or stage), or None when it is not one."""
    m = TAG_RE.match(name)
    if not m:
        return None
    out = {"artifact": m["artifact"].replace("=", ":")}
    if m["deprecated"]:
        out["action"] = "deprecate"
    elif m["created"]:
        out["action"] = "create"
    elif m["version"]:
        out["version"] = m["version"]
        out["action"] = "deregister" if m["cancel"] else "register"
    else:
        out["stage"] = m["stage"]
        out["action"] = "unassign" if m["cancel"] else "assign"
    if m["counter"]:
        out["counter"] = m["counter"]
    return out


def semver_key(version: str) -> tuple[Any, ...]:
    """Semantic-version precedence of ``vX.Y.Z[-pre][+build]`` (a release after its pre-releases)."""
    core, _, build = version.lstrip("v").partition("+")
    main, _, pre = core.partition("-")
    numbers = tuple(int(p) for p in main.split("."))
    if not pre:
        return (numbers, (1,), build)
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (numbers, (0, parts), build)


@dataclass
class _Artifact:
    name: str
    registered: dict[str, Tag] = field(default_factory=dict)
    deregistered: dict[str, Tag] = field(default_factory=dict)
    stage_events: list[Tag] = field(default_factory=list)
    deprecated: Tag | None = None


def _read_tags(git: GitRepo, notes: list[Note]) -> Iterator[Tag]:
    """Every GTO tag of the repository in GTO's order (tagger date, then name): one git process."""
    fmt = "%00".join(
        (
            "%(refname:strip=2)",
            "%(objecttype)",
            "%(*objectname)",
            "%(taggername)",
            "%(taggeremail)",
            "%(taggerdate:iso-strict)",
        )
    )
    out = git.git("for-each-ref", f"--format={fmt}", "refs/tags")
    found = []
    for line in out.splitlines():
        fields = line.split("\0")
        if len(fields) != 6:
            continue
        name, kind, target, tagger, email, date = fields
        parsed = parse_tag(name)
        if parsed is None:
            if "@" in name or "#" in name:
                notes.append(
                    Note("lost", None, None, "tag", f"tag {name!r} does not follow GTO's tag grammar: ignored")
                )
            continue
        if kind != "tag":
            notes.append(
                Note("lost", None, None, "tag", f"tag {name!r} is a lightweight tag, which GTO ignores: ignored")
            )
            continue
        who = tagger or email.strip("<>") or "unknown"
        found.append(
            Tag(
                name,
                parsed["artifact"],
                parsed["action"],
                target,
                normalize(date),
                who,
                parsed.get("version"),
                parsed.get("stage"),
                int(parsed.get("counter", "0")),
            )
        )
    found.sort(key=lambda t: t.order)
    yield from found


def _artifacts(tags: Iterator[Tag]) -> dict[str, _Artifact]:
    arts: dict[str, _Artifact] = {}
    for t in tags:
        a = arts.setdefault(t.artifact, _Artifact(t.artifact))
        if t.action == "register" and t.version:
            a.registered[t.version] = t
            a.deregistered.pop(t.version, None)
        elif t.action == "deregister" and t.version:
            a.deregistered[t.version] = t
        elif t.action in ("assign", "unassign"):
            a.stage_events.append(t)
        elif t.action == "deprecate":
            a.deprecated = t
    return arts


class _Repo:
    """The GTO repository: its git, its artifacts.yaml at any commit, and copies of paths at a commit."""

    def __init__(self, path: str) -> None:
        try:
            self.git = GitRepo(path)
        except MlgateError as e:
            raise InputError(f"cannot read the GTO repository {path}: {e}") from None
        self.index = _INDEX
        config = self._yaml("HEAD", _CONFIG)
        if isinstance(config, dict):
            named = config.get("index", config.get("INDEX"))
            if isinstance(named, str) and not layout.safe_relative(named):
                self.index = named
        self._indexes: dict[str, tuple[dict[Any, Any], dict[Any, Any]]] = {}

    def _yaml(self, commit: str, path: str) -> Any:
        got = self.git.objects.contents(f"{commit}:{path}")
        if got is None or got[0] != "blob":
            return None
        return load(got[1], path).data

    def entry(self, commit: str, name: str) -> Mapping[str, Any] | None:
        """The artifact's entry in artifacts.yaml at ``commit`` (:class:`InputError` when it cannot be read)."""
        if commit not in self._indexes:
            index = self._yaml(commit, self.index)
            dvc = self._yaml(commit, _DVC)  # GTO with DVC annotates artifacts in dvc.yaml's artifacts: instead
            section = dvc.get("artifacts") if isinstance(dvc, dict) else None
            self._indexes[commit] = (
                index if isinstance(index, dict) else {},
                section if isinstance(section, dict) else {},
            )
        index, section = self._indexes[commit]
        value = index.get(name, section.get(name))
        return value if isinstance(value, dict) else None

    def origin(self) -> str | None:
        try:
            url = self.git.git("remote", "get-url", "origin").strip()
        except MlgateError:
            return None
        return safe_uri(url) if is_uri(url) else None

    def copy(self, commit: str, path: str, folder: Path) -> Path:
        """``path`` (a file or a folder) as it is at ``commit``, written under ``folder``: one streamed git archive."""
        problem = layout.safe_relative(path)
        if problem:
            raise InputError(f"artifacts.yaml's path {path!r} {problem}")
        proc = subprocess.Popen(
            ["git", "archive", "--format=tar", commit, "--", path],
            cwd=self.git.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    if member.issym() or member.islnk():
                        raise InputError(
                            f"{member.name!r} at {commit[:12]} is a link: mlgate stores files and folders only"
                        )
                    if member.isdir():
                        (folder / member.name).mkdir(parents=True, exist_ok=True)
                    elif member.isfile():
                        target = folder / member.name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        source = tar.extractfile(member)
                        assert source is not None
                        with target.open("wb") as out:
                            while chunk := source.read(1 << 20):
                                out.write(chunk)
        except tarfile.TarError:
            pass  # git said why, below
        finally:
            proc.stdout.close()
            err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
            code = proc.wait()
            if proc.stderr:
                proc.stderr.close()
        local = folder / path
        if code != 0 or not local.exists():
            raise InputError(
                f"{path!r} is not in the repository at {commit[:12]}"
                + (f" ({err.strip().splitlines()[0]})" if err.strip() else "")
            )
        if (
            local.is_file()
            and local.stat().st_size < 1024
            and local.read_bytes().startswith(b"version https://git-lfs")
        ):
            raise InputError(f"{path!r} at {commit[:12]} is a Git LFS pointer: its bytes are not in git")
        return local


def stage_aliases(
    stages: set[str], given: Mapping[str, str], policy: Mapping[str, str]
) -> tuple[dict[str, str], list[Note]]:
    """Each GTO stage's alias: ``--stage`` first, then the policy's ``stages:`` (without case; ``prod`` is
    ``production``), then the stage's own name; a stage with none is a note."""
    lowered = {k.lower(): v for k, v in policy.items()}
    out: dict[str, str] = {}
    notes: list[Note] = []
    for stage in sorted(stages):
        if stage in given:
            alias, why = given[stage], "--stage"
        elif stage.lower() in lowered or (stage.lower() == "prod" and "production" in lowered):
            alias = lowered.get(stage.lower()) or lowered["production"]
            why = "the policy's stages: mapping"
        else:
            alias, why = stage, "its own name"
        problem = alias_problem(alias)
        if problem:
            notes.append(
                Note(
                    "failed",
                    None,
                    None,
                    "stage",
                    f"stage {stage!r} -> alias {alias!r} ({why}): {problem}; map it with --stage {stage}=ALIAS",
                )
            )
            continue
        out[stage] = alias
        if alias != stage or why != "its own name":
            notes.append(Note("renamed", None, None, "stage", f"stage {stage!r} -> alias {alias!r} ({why})"))
    return out, notes


def _holders(events: list[Tag], numbers: Mapping[str, int]) -> dict[str, tuple[str, Tag]]:
    """stage -> (GTO version, the assigning tag) of the version holding it: the most recently assigned of the
    versions whose latest event for that stage is an assignment."""
    latest: dict[tuple[str, str], Tag] = {}
    for t in events:  # in time order
        assert t.stage is not None and t.version is not None
        latest[(t.stage, t.version)] = t
    out: dict[str, tuple[str, Tag]] = {}
    for (stage, version), t in latest.items():
        if t.action != "assign" or version not in numbers:
            continue
        if stage not in out or t.order > out[stage][1].order:
            out[stage] = (version, t)
    return out


def import_gto(
    repo_path: str,
    *,
    path: str = ".",
    stages: Mapping[str, str] | None = None,
    store: str,
    author: str,
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
) -> ImportResult:
    """Import the GTO registry in the git repository at ``path`` into the registry at ``repo_path``."""
    from mlgate.interop.importers.report import import_markdown

    if not store:
        raise UsageError("an import copies artifacts: pass --store URI (a folder or an fsspec URL)")
    src = _Repo(path)
    notes: list[Note] = []
    arts = _artifacts(_read_tags(src.git, notes))
    names, collision_notes = check_collisions((a, map_name(a.replace(":", "-"))) for a in sorted(arts))
    notes += collision_notes
    code_repo = src.origin()
    mapping_rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []

    def source_models(tree: Any) -> Iterator[ModelIn]:
        all_stages = {t.stage for a in arts.values() for t in a.stage_events if t.stage}
        aliases_of, stage_notes = stage_aliases(all_stages, stages or {}, policy_stages(tree))
        notes.extend(stage_notes)
        from mlgate.registry.snapshot import Registry

        registry = Registry(tree)
        known = set(registry.model_names())
        for raw in sorted(arts):
            if raw not in names:
                continue
            yield _model(
                src,
                arts[raw],
                names[raw],
                registry if names[raw] in known else None,
                aliases_of,
                code_repo,
                mapping_rows,
                history,
            )

    return run_import(
        repo_path,
        SOURCE,
        os.path.abspath(path),
        source_models,
        store=store,
        author=author,
        base=base,
        forge=forge,
        open_pr=open_pr,
        branch="mlgate/import-gto",
        notes=notes,
        extra={"version_mapping": mapping_rows, "stage_history": history},
        render_body=import_markdown,
    )


def _numbers(art: _Artifact, name: str, registry: Any) -> dict[str, int]:
    """GTO version -> mlgate version: those a previous import recorded, then the new ones after them, in order."""
    taken: dict[str, int] = {}
    highest = 0
    if registry is not None:
        for n in registry.version_numbers(name):
            highest = max(highest, n)
            tags = registry.version(name, n).tags
            if tags.get("imported.from") == SOURCE and tags.get("imported.version"):
                taken[str(tags["imported.version"])] = n
    active = [v for v in art.registered if v not in art.deregistered]
    out = {v: taken[v] for v in active if v in taken}
    for v in sorted((v for v in active if v not in taken), key=semver_key):
        highest += 1
        out[v] = highest
    return out


def _model(
    src: _Repo,
    art: _Artifact,
    name: str,
    registry: Any,
    aliases_of: Mapping[str, str],
    code_repo: str | None,
    mapping_rows: list[dict[str, Any]],
    history: list[dict[str, Any]],
) -> ModelIn:
    notes: list[Note] = []
    for v, t in sorted(art.deregistered.items(), key=lambda kv: semver_key(kv[0])):
        notes.append(
            Note(
                "lost",
                name,
                None,
                "version",
                f"{art.name}@{v} was deregistered in GTO ({t.name} by {t.by}, {t.time}): not imported",
            )
        )
    active = {v: t for v, t in art.registered.items() if v not in art.deregistered}
    numbers = {v: n for v, n in _numbers(art, name, registry).items() if v in active}
    for v in sorted(numbers, key=semver_key):
        mapping_rows.append({"model": name, "source_version": v, "version": numbers[v], "tag": active[v].name})
    by_commit: dict[str, str] = {}
    for v, t in sorted(art.registered.items(), key=lambda kv: kv[1].order):
        by_commit[t.commit] = v  # the latest registration at a commit is the version there (GTO's find_version)
    stage_events = []
    for t in art.stage_events:
        version = by_commit.get(t.commit)
        history.append(
            {
                "time": t.time,
                "model": name,
                "action": t.action,
                "stage": t.stage,
                "source_version": version or t.commit[:12],
                "version": numbers.get(version or ""),
                "by": t.by,
                "tag": t.name,
            }
        )
        if version is None:
            notes.append(
                Note(
                    "lost",
                    name,
                    None,
                    "stage",
                    f"{t.name}: {t.action}s stage {t.stage!r} at commit {t.commit[:12]}, where no version is registered",
                )
            )
            continue
        stage_events.append(Tag(t.name, t.artifact, t.action, t.commit, t.time, t.by, version, t.stage, t.counter))
    aliases = []
    for stage, (version, t) in sorted(_holders(stage_events, numbers).items()):
        if stage in aliases_of:
            aliases.append(AliasIn(aliases_of[stage], numbers[version], f"stage {stage}, {t.name} by {t.by}"))
        else:
            notes.append(
                Note("failed", name, numbers[version], "stage", f"stage {stage!r} ({version}) has no alias: not set")
            )
    deprecated = None
    if art.deprecated is not None:
        t = art.deprecated
        deprecated = f"the GTO artifact was deprecated ({t.name} by {t.by}, {t.time})"
    newest = max(active.values(), key=lambda t: t.order) if active else None
    head_entry = _safe_entry(src, "HEAD", art.name, notes, name)
    if head_entry is None and newest is not None:  # not annotated on HEAD: as at the newest registration
        head_entry = _safe_entry(src, newest.commit, art.name, notes, name)
    description = str(head_entry.get("description") or "") if head_entry else ""
    tags: dict[str, str] = {}
    if head_entry:
        if head_entry.get("type"):
            tags["gto.type"] = str(head_entry["type"])
        labels = head_entry.get("labels")
        if isinstance(labels, list) and labels:
            tags["gto.labels"] = ",".join(str(x) for x in labels)
    versions = sorted(numbers.items(), key=lambda kv: kv[1])

    def read() -> Iterator[VersionIn]:
        for v, n in versions:
            yield _version(src, art, name, v, n, active[v], code_repo, deprecated)

    return ModelIn(art.name, name, description or None, tags, read, tuple(aliases), tuple(notes))


def _safe_entry(src: _Repo, commit: str, artifact: str, notes: list[Note], name: str) -> Mapping[str, Any] | None:
    try:
        return src.entry(commit, artifact)
    except MlgateError as e:
        notes.append(Note("lost", name, None, "artifacts.yaml", f"{src.index} at {commit[:12]} cannot be read: {e}"))
        return None


def _version(
    src: _Repo, art: _Artifact, name: str, v: str, n: int, t: Tag, code_repo: str | None, deprecated: str | None
) -> VersionIn:
    notes: list[Note] = []
    entry = _safe_entry(src, t.commit, art.name, notes, name)
    placeholders = ["run_id", "dataset"] + ([] if code_repo else ["code_repo"])
    notes.append(Note("placeholder", name, n, "lineage", f"GTO records no {', '.join(placeholders)}: placeholders"))

    def fetch(folder: Path) -> Path:
        if entry is None:
            raise InputError(f"{art.name!r} has no entry in {src.index} at {t.commit[:12]} ({t.name}): no path to copy")
        path = entry.get("path")
        if not isinstance(path, str) or not path:
            raise InputError(f"{art.name!r} in {src.index} at {t.commit[:12]} has no path")
        if is_uri(path) or entry.get("virtual") is True and "://" in path:
            raise InputError(
                f"{art.name!r}'s path {path!r} is virtual (outside git): mlgate cannot read its bytes from the repository"
            )
        if ":" in art.name:
            path = f"{art.name.split(':', 1)[0].rstrip('/')}/{path}"
        return src.copy(t.commit, path, folder)

    card = "\n".join(
        [
            f"# {name} {v}",
            "",
            f"Imported by `mlgate import gto` from the GTO registration tag `{t.name}` (commit {t.commit[:12]}, "
            f"registered {t.time}). Add the sections your policy's gates require before promoting it.",
            "",
        ]
    )
    return VersionIn(
        number=n,
        created_at=t.time,
        created_by=t.by,
        description=None,
        tags={"imported.from": SOURCE, "imported.name": art.name, "imported.version": v, "imported.tag": t.name},
        lineage={
            "run_id": "unknown",
            "git_sha": t.commit,
            "code_repo": code_repo or PLACEHOLDER_URI,
            "dataset": {"uri": PLACEHOLDER_URI, "sha256": placeholder_sha256(f"gto:{t.name}:training")},
        },
        metrics={},
        eval_dataset=None,
        card=card,
        fetch=fetch,
        deprecated=deprecated,
        notes=tuple(notes),
        source_version=v,
    )
