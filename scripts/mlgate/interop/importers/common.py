"""What every importer shares: names mapped to mlgate's, source-neutral models and versions, and the import run.

A source (MLflow, GTO) describes its models as :class:`ModelIn` and their versions as :class:`VersionIn`,
lazily: a version's artifact is fetched only when :func:`run_import` reaches it, digested, compared with the
registry and copied to the store, then its temporary copy is removed, so memory and disk stay bounded by
one artifact whatever the number of versions. Everything that has no home in mlgate becomes a :class:`Note`
in the :class:`ImportResult`; nothing is dropped silently.

Re-runs: a version already on the target branch is skipped (and said so) when its artifact has the same
sha256, and is a conflict otherwise (merged versions are immutable: never overwritten). Aliases and
deprecations (mutable) are brought up to date.
"""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mlgate.change import batch
from mlgate.change.propose import Proposal
from mlgate.core import layout
from mlgate.core.signoff import is_login, is_team
from mlgate.core.uris import DEFAULT_STAGES
from mlgate.errors import MlgateError, PullRequestExists, UsageError
from mlgate.forge import Forge
from mlgate.infra import schemas
from mlgate.infra.yamlio import dump, field_path, load
from mlgate.registry import artifacts, readers
from mlgate.render.report import terminal_safe

# --- the registry's own rules, as the schemas state them ---------------------------------------------------

_TAG_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}\Z")
_TAG_VALUE_MAX = 256
_TAGS_MAX = 64
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}\Z")
_PARAMS_MAX = 256
_METRIC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}\Z")
_METRICS_MAX = 256
_TEXT_MAX = 4096
_URI = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s]+\Z")
_GIT_SHA = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64})\Z")

#: stand-ins for lineage a source did not record: clearly named, and listed in the report for every version
PLACEHOLDER_GIT_SHA = "0" * 40
PLACEHOLDER_URI = "unknown://not-recorded-in-the-source-registry"


def policy_stages(tree: Any) -> dict[str, str]:
    """The policy's ``stages:`` mapping (MLflow stage -> alias) on the base branch (the default when it has none,
    or cannot be read: the import's own validation then says why)."""
    from mlgate.check.run import load_policy

    policy, _ = load_policy(tree)
    return dict(policy.stages if policy is not None else DEFAULT_STAGES)


def alias_problem(name: str) -> str | None:
    """Why ``name`` cannot be an mlgate alias, or None."""
    problem = layout.name_problem(name)
    if problem:
        return f"not an mlgate alias name ({problem})"
    return layout.reserved_alias(name)


def map_name(raw: str) -> str | None:
    """A source's model name as an mlgate name, the same every time: ``Fraud Model`` -> ``fraud-model``.

    Letters lose their accents and case; every run of other characters (spaces, ``/``, ``:``...) becomes
    one ``-``; ``..`` becomes ``.``; leading punctuation and trailing ``.`` or ``-`` go; a ``.lock`` ending
    becomes ``-lock``; at most 64 characters. None when nothing usable is left.
    """
    text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9._-]+", "-", text)
    text = re.sub(r"\.{2,}", ".", text)
    text = re.sub(r"-{2,}", "-", text)
    text = text.lstrip("._-")[:64].rstrip(".-")
    if text.endswith(".lock"):
        text = text[:-5] + "-lock"
    return text if layout.is_name(text) else None


def detect_format(local: Path) -> str | None:
    """``mlflow`` for a folder holding an MLflow ``MLmodel`` file; None lets the store decide (tar, or the suffix)."""
    return "mlflow" if local.is_dir() and (local / "MLmodel").is_file() else None


def safe_uri(uri: str) -> str:
    """``uri`` without a password or token in its user part (what the report and the PR may show)."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def placeholder_sha256(what: str) -> str:
    """A stand-in digest, distinct per ``what`` (so two versions never look measured on the same data)."""
    return hashlib.sha256(f"mlgate-import-placeholder:{what}".encode()).hexdigest()


# --- what a source hands over ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """One thing worth listing: ``kind`` is renamed, skipped, lost (no home in mlgate), placeholder, failed
    or conflict (the last two make the import exit 1)."""

    kind: str
    model: str | None
    version: int | None
    what: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "version": self.version,
            "what": self.what,
            "detail": self.detail,
        }


FAILING = ("failed", "conflict")
_LABELS = {"mlflow": "MLflow", "gto": "GTO"}


@dataclass(frozen=True)
class VersionIn:
    """One version as a source describes it; ``fetch(folder)`` puts its artifact in ``folder`` (which it creates)
    and returns the file or folder to store (it may raise :class:`MlgateError` or ``OSError``: the version then
    fails)."""

    number: int
    created_at: str
    created_by: str | None
    description: str | None
    tags: Mapping[str, str]
    lineage: Mapping[str, Any]
    metrics: Mapping[str, float]
    eval_dataset: Mapping[str, str] | None
    card: str
    fetch: Callable[[Path], Path]
    format: str | None = None
    deprecated: str | None = None
    notes: tuple[Note, ...] = ()
    #: how the source names this version (MLflow: "3", GTO: "v1.2.0"), for the report
    source_version: str = ""


@dataclass(frozen=True)
class AliasIn:
    """An alias the source sets: ``origin`` says where it comes from (``MLflow alias``, ``stage Production``)."""

    alias: str
    version: int
    origin: str


@dataclass(frozen=True)
class ModelIn:
    """One model of the source, under its mlgate ``name``; its versions are read lazily, in order."""

    source_name: str
    name: str
    description: str | None
    tags: Mapping[str, str]
    versions: Callable[[], Iterable[VersionIn]]
    aliases: tuple[AliasIn, ...] = ()
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Imported:
    model: str
    version: int
    source_version: str
    uri: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "source_version": self.source_version,
            "uri": self.uri,
            "sha256": self.sha256,
            "size": self.size,
        }


@dataclass(frozen=True)
class AliasSet:
    model: str
    alias: str
    version: int
    previous: int | None
    origin: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "version": self.version,
            "previous": self.previous,
            "origin": self.origin,
        }


@dataclass(frozen=True)
class ImportResult:
    """What an import did and could not do; ``proposal`` is None when there was nothing new to write."""

    source: str
    location: str
    models: tuple[str, ...] = ()
    imported: tuple[Imported, ...] = ()
    aliases: tuple[AliasSet, ...] = ()
    deprecated: tuple[tuple[str, int, str], ...] = ()
    notes: tuple[Note, ...] = ()
    #: extra sections a source adds to the report (GTO: its version mapping and stage history)
    extra: Mapping[str, Any] = field(default_factory=dict)
    proposal: Proposal | None = None

    @property
    def ok(self) -> bool:
        return not any(n.kind in FAILING for n in self.notes)

    def notes_of(self, *kinds: str) -> list[Note]:
        return [n for n in self.notes if n.kind in kinds]


# --- fitting a source's metadata into the schemas --------------------------------------------------------------


def fit_tags(
    tags: Mapping[str, str], model: str, version: int | None, notes: list[Note], room: int = _TAGS_MAX
) -> dict[str, str]:
    """The tags mlgate can hold (key pattern, value length, count); every other one becomes a note."""
    out: dict[str, str] = {}
    # the importer's own ``imported.*`` tags first: they say where the version came from, and must fit
    for key, value in sorted(tags.items(), key=lambda kv: (not kv[0].startswith("imported."), kv[0])):
        value = printable("" if value is None else str(value))
        if not _TAG_KEY.match(key):
            notes.append(
                Note("lost", model, version, "tag", f"tag {key!r}: not a valid mlgate tag key (value {value!r})")
            )
        elif len(value) > _TAG_VALUE_MAX:
            notes.append(Note("lost", model, version, "tag", f"tag {key!r}: value over {_TAG_VALUE_MAX} characters"))
        elif len(out) >= room:
            notes.append(Note("lost", model, version, "tag", f"tag {key!r}: over mlgate's {_TAGS_MAX} tags"))
        else:
            out[key] = value
    return out


def fit_params(params: Mapping[str, str], model: str, version: int, notes: list[Note]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in sorted(params.items()):
        if not _PARAM_NAME.match(key):
            notes.append(Note("lost", model, version, "param", f"param {key!r}: not a valid mlgate parameter name"))
        elif len(out) >= _PARAMS_MAX:
            notes.append(Note("lost", model, version, "param", f"param {key!r}: over mlgate's {_PARAMS_MAX} params"))
        else:
            out[key] = printable(str(value))
    return out


def fit_metrics(metrics: Mapping[str, float], model: str, version: int, notes: list[Note]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in sorted(metrics.items()):
        if not _METRIC_NAME.match(key):
            notes.append(Note("lost", model, version, "metric", f"metric {key!r}: not a valid mlgate metric name"))
        elif not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            notes.append(Note("lost", model, version, "metric", f"metric {key!r}: {value!r} is not a finite number"))
        elif len(out) >= _METRICS_MAX:
            notes.append(
                Note("lost", model, version, "metric", f"metric {key!r}: over mlgate's {_METRICS_MAX} metrics")
            )
        else:
            out[key] = value
    return out


def printable(text: str) -> str:
    """``text`` as a manifest may hold it: control characters (ESC, C1, bidi overrides; not tab or newline)
    written out as visible ``\\xNN`` escapes, the way mlgate shows them on a terminal."""
    return terminal_safe(text)


def fit_text(text: str | None, limit: int = _TEXT_MAX) -> str | None:
    """Free text as a manifest holds it: printable, at most ``limit`` characters (the card keeps the whole text)."""
    if not text or not text.strip():
        return None
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def is_uri(text: str | None) -> bool:
    return bool(text) and bool(_URI.match(text or "")) and len(text or "") <= 2048


def is_git_sha(text: str | None) -> bool:
    return bool(text) and bool(_GIT_SHA.match(text or ""))


def principal(who: str | None) -> str | None:
    """``who`` when it is a forge login or team that mlgate can record, else None."""
    return who if who and (is_login(who) or is_team(who)) else None


# --- the run -----------------------------------------------------------------------------------------------------


def _schema_problems(kind: str, doc: dict[str, Any]) -> list[str]:
    return [f"{field_path(e.path) or kind}: {e.message}" for e in schemas.errors(kind, doc)]


class _Run:
    """One import: the base branch, the files to write, the notes; see :func:`run_import`."""

    def __init__(self, base: batch.Base, store: str, author: str, source: str) -> None:
        self.base = base
        self.store = store
        self.author = author
        self.source = source
        self.files: dict[str, bytes | None] = {}
        self.notes: list[Note] = []
        self.imported: list[Imported] = []
        self.aliases: list[AliasSet] = []
        self.deprecated: list[tuple[str, int, str]] = []
        from mlgate.registry.snapshot import Registry

        self.registry = Registry(base.tree)
        self.scratch = Path(tempfile.mkdtemp(prefix="mlgate-import-"))  # one artifact at a time; removed at the end
        self.existing_models = set(self.registry.model_names())

    def note(self, kind: str, model: str | None, version: int | None, what: str, detail: str) -> None:
        self.notes.append(Note(kind, model, version, what, detail))

    # one model ---------------------------------------------------------------------------------------------

    def model(self, m: ModelIn) -> None:
        self.notes.extend(m.notes)
        existing = self.registry.version_numbers(m.name) if m.name in self.existing_models else []
        present: set[int] = set(existing)
        deprecations: dict[int, str] = {}
        for v in m.versions():
            self.notes.extend(v.notes)
            if self._version(m, v, existing):
                present.add(v.number)
            if v.deprecated and v.number in present:
                deprecations[v.number] = v.deprecated
        deprecated = self._model_yaml(m, deprecations, present)
        self._aliases(m, present, deprecated)

    def _version(self, m: ModelIn, v: VersionIn, existing: Sequence[int]) -> bool:
        """Import one version (or recognise it on the base); whether the version is in the registry after."""
        where = f"{self.source} version {v.source_version or v.number}"
        if not layout.VERSION_RE.match(str(v.number)):
            self.note("failed", m.name, None, "version", f"{where}: {v.number} is not a version number mlgate can hold")
            return False
        folder = self.scratch / str(v.number)  # made by fetch when it writes: a version that fails first costs nothing
        try:
            try:
                local = v.fetch(folder)
                fmt = v.format or detect_format(local)
                info = artifacts.describe_local(local, fmt)
            except (MlgateError, OSError) as e:
                self.note("failed", m.name, v.number, "artifact", f"{where}: cannot read its artifact: {e}")
                return v.number in existing
            if v.number in existing:
                recorded = self.registry.version(m.name, v.number).artifact
                if recorded.sha256 == info.sha256:
                    self.note(
                        "skipped", m.name, v.number, "version", f"{where} is already in the registry (same sha256)"
                    )
                else:
                    self.note(
                        "conflict",
                        m.name,
                        v.number,
                        "version",
                        f"{where}: its artifact's sha256 is {info.sha256}, but v{v.number} on {self.base.name} "
                        f"records {recorded.sha256}; merged versions are immutable, so it was not imported",
                    )
                return True
            try:
                stored = artifacts.upload(local, self.store, fmt)
            except MlgateError as e:
                self.note(
                    "failed", m.name, v.number, "artifact", f"{where}: cannot copy its artifact to the store: {e}"
                )
                return False
        finally:
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
        return self._write_version(m, v, stored)

    def _write_version(self, m: ModelIn, v: VersionIn, art: artifacts.ArtifactInfo) -> bool:
        notes: list[Note] = []
        doc: dict[str, Any] = {"apiVersion": "mlgate/v1", "kind": "ModelVersion", "model": m.name, "version": v.number}
        description = fit_text(v.description)
        if description:
            doc["description"] = description
        who = principal(v.created_by)
        if v.created_by and who is None:
            notes.append(
                Note(
                    "lost",
                    m.name,
                    v.number,
                    "created_by",
                    f"{v.created_by!r} is not a forge login: recorded as {self.author}",
                )
            )
        doc["created_at"] = v.created_at
        doc["created_by"] = who or self.author
        doc["artifact"] = {"uri": art.uri, "sha256": art.sha256, "size": art.size, "format": art.format}
        lineage = dict(v.lineage)
        lineage["params"] = fit_params(lineage.get("params") or {}, m.name, v.number, notes)
        doc["lineage"] = {k: val for k, val in lineage.items() if val not in (None, {}, "")}
        tags = fit_tags(v.tags, m.name, v.number, notes)
        if tags:
            doc["tags"] = tags
        files = {layout.version_path(m.name, v.number): doc}
        metrics = fit_metrics(v.metrics, m.name, v.number, notes)
        if metrics and v.eval_dataset:
            files[layout.eval_path(m.name, v.number)] = {
                "apiVersion": "mlgate/v1",
                "kind": "EvalResult",
                "model": m.name,
                "version": v.number,
                "dataset": dict(v.eval_dataset),
                "metrics": metrics,
            }
        else:
            notes.append(
                Note(
                    "lost",
                    m.name,
                    v.number,
                    "eval",
                    "no metrics in the source: no eval.yaml (gates that need one fail)",
                )
            )
        problems = [
            f"{path.rsplit('/', 1)[-1]}: {p}"
            for path, d in files.items()
            for p in _schema_problems("ModelVersion" if path.endswith("version.yaml") else "EvalResult", d)
        ]
        if problems:
            self.note("failed", m.name, v.number, "version", "would be invalid: " + "; ".join(problems[:3]))
            return False
        self.notes.extend(notes)
        for path, d in files.items():
            self.files[path] = dump(d).encode()
        self.files[layout.card_path(m.name, v.number)] = v.card.encode("utf-8")
        self.imported.append(
            Imported(m.name, v.number, v.source_version or str(v.number), art.uri, art.sha256, art.size)
        )
        return True

    def _model_yaml(self, m: ModelIn, deprecations: Mapping[int, str], present: set[int]) -> set[int]:
        """Write (or update) model.yaml; the versions deprecated after the import."""
        path = layout.model_path(m.name)
        if m.name in self.existing_models:
            doc = load(self.base.tree.read(path), path).data
            if not isinstance(doc, dict):
                self.note("failed", m.name, None, "model", f"{path} on {self.base.name} is not a mapping: fix it first")
                return set()
            known = readers.deprecations_of(doc)
            new = {n: r for n, r in deprecations.items() if n not in known}
            if new:
                listed = list(doc.get("deprecated") or [])
                listed += [{"version": n, "reason": r} for n, r in sorted(new.items())]
                doc["deprecated"] = listed
                self.files[path] = dump(doc).encode()
                self.deprecated += [(m.name, n, r) for n, r in sorted(new.items())]
            return set(known) | set(deprecations)
        if not present:
            return set()  # no version of it made it: no model folder either
        notes: list[Note] = []
        description = fit_text(m.description)
        if description is None:
            description = f"Imported from {_LABELS.get(self.source, self.source)} ({m.source_name!r}), which has no description of it."
            notes.append(
                Note("placeholder", m.name, None, "description", "no description in the source: model.yaml says so")
            )
        doc = {
            "apiVersion": "mlgate/v1",
            "kind": "Model",
            "name": m.name,
            "description": description,
            "owners": [self.author],
        }
        notes.append(
            Note(
                "placeholder",
                m.name,
                None,
                "owners",
                f"the source records no owners: {self.author} (the importer) owns it",
            )
        )
        tags = fit_tags(m.tags, m.name, None, notes)
        if tags:
            doc["tags"] = tags
        if deprecations:
            doc["deprecated"] = [{"version": n, "reason": r} for n, r in sorted(deprecations.items())]
            self.deprecated += [(m.name, n, r) for n, r in sorted(deprecations.items())]
        problems = _schema_problems("Model", doc)
        if problems:
            self.note("failed", m.name, None, "model", "model.yaml would be invalid: " + "; ".join(problems[:3]))
            for p in [p for p in self.files if p.startswith(f"{layout.model_dir(m.name)}/")]:
                del self.files[p]
            self.imported = [i for i in self.imported if i.model != m.name]
            return set()
        self.notes.extend(notes)
        self.files[path] = dump(doc).encode()
        return set(deprecations)

    def _aliases(self, m: ModelIn, present: set[int], deprecated: set[int]) -> None:
        if layout.model_path(m.name) not in self.files and m.name not in self.existing_models:
            for a in m.aliases:
                self.note("failed", m.name, a.version, "alias", f"{a.alias} ({a.origin}): the model was not imported")
            return
        current = (
            {name: a.version for name, a in self.registry.aliases(m.name).items()}
            if m.name in self.existing_models
            else {}
        )
        for a in m.aliases:
            problem = alias_problem(a.alias)
            if problem:
                self.note("failed", m.name, a.version, "alias", f"{a.alias!r} ({a.origin}): {problem}")
            elif a.version not in present:
                self.note(
                    "failed",
                    m.name,
                    a.version,
                    "alias",
                    f"{a.alias} ({a.origin}) points at v{a.version}, which was not imported",
                )
            elif a.version in deprecated:
                self.note(
                    "failed",
                    m.name,
                    a.version,
                    "alias",
                    f"{a.alias} ({a.origin}) points at v{a.version}, which is deprecated (archived): an alias cannot hold it",
                )
            elif current.get(a.alias) == a.version:
                self.note("skipped", m.name, a.version, "alias", f"{a.alias} already points at v{a.version}")
            else:
                doc = {
                    "apiVersion": "mlgate/v1",
                    "kind": "Alias",
                    "model": m.name,
                    "alias": a.alias,
                    "version": a.version,
                    "note": f"Imported from {_LABELS.get(self.source, self.source)} ({a.origin}).",
                }
                self.files[layout.alias_path(m.name, a.alias)] = dump(doc).encode()
                self.aliases.append(AliasSet(m.name, a.alias, a.version, current.get(a.alias), a.origin))


def check_collisions(pairs: Iterable[tuple[str, str | None]]) -> tuple[dict[str, str], list[Note]]:
    """Source names -> mlgate names; a name that cannot be mapped, or two that map to one, become failed notes."""
    by_target: dict[str, list[str]] = {}
    notes: list[Note] = []
    for raw, mapped in pairs:
        if mapped is None:
            notes.append(Note("failed", None, None, "model", f"{raw!r} cannot be mapped to an mlgate model name"))
            continue
        by_target.setdefault(mapped, []).append(raw)
    names: dict[str, str] = {}
    for target, raws in by_target.items():
        if len(raws) > 1:
            both = " and ".join(repr(r) for r in sorted(raws))
            notes.append(
                Note(
                    "failed",
                    target,
                    None,
                    "model",
                    f"{both} both map to {target!r}: neither was imported (rename one in the source)",
                )
            )
            continue
        names[raws[0]] = target
        if raws[0] != target:
            notes.append(Note("renamed", target, None, "model", f"{raws[0]!r} -> {target!r}"))
    return names, notes


def run_import(
    repo_path: str,
    source: str,
    location: str,
    models: Callable[[Any], Iterable[ModelIn]],
    *,
    store: str,
    author: str,
    base: str,
    forge: Forge | None,
    open_pr: bool,
    branch: str,
    notes: Sequence[Note] = (),
    extra: Mapping[str, Any] | None = None,
    render_body: Callable[[ImportResult], str],
) -> ImportResult:
    """Import the source's models (``models(base_tree)``: the base branch's tree lets a source read the policy)
    into the registry at ``repo_path``, as one pull request from ``branch`` (see the module)."""
    if not store:
        raise UsageError("an import copies artifacts: pass --store URI (a folder or an fsspec URL)")
    start = batch.open_base(repo_path, base, author)
    run = _Run(start, store, author, source)
    names: list[str] = []
    try:
        for m in models(start.tree):
            names.append(m.name)
            run.model(m)
    finally:
        shutil.rmtree(run.scratch, ignore_errors=True)
    run.notes[:0] = list(notes)  # the source's own notes first (read last: reading the models may add some)
    result = ImportResult(
        source,
        location,
        tuple(names),
        tuple(run.imported),
        tuple(run.aliases),
        tuple(run.deprecated),
        tuple(run.notes),
        dict(extra or {}),
    )
    if not run.files:
        return result
    title = _title(source, result)
    try:
        proposal = batch.propose(
            start,
            run.files,
            branch=branch,
            title=title,
            body=render_body(result),
            author=author,
            forge=forge,
            open_pr=open_pr,
            labels=["import"],
            kind="import",
        )
    except PullRequestExists as e:
        # a re-run while the earlier run's pull request is still open with exactly this change: nothing to do
        return replace(result, extra={**result.extra, "open_pull_request": e.number, "open_branch": e.head})
    return replace(result, proposal=proposal)


def _title(source: str, result: ImportResult) -> str:
    what = []
    if result.imported:
        models = sorted({i.model for i in result.imported})
        what.append(
            f"{len(result.imported)} version(s) of {', '.join(models[:3])}" + (" and more" if len(models) > 3 else "")
        )
    if result.aliases:
        what.append(f"{len(result.aliases)} alias(es)")
    if result.deprecated and not what:
        what.append(f"{len(result.deprecated)} deprecation(s)")
    label = {"mlflow": "MLflow", "gto": "GTO"}.get(source, source)
    return f"Import {' and '.join(what)} from {label}"
