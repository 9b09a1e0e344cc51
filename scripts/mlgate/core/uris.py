"""``models:/`` URIs: parsing, and the one rule of what a URI names; importable anywhere (serving included)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from mlgate.core.layout import NAME_PATTERN, NAME_RE, NAME_RULE, VERSION_RE, is_name, reserved_alias
from mlgate.errors import UnknownAlias, UnknownVersion, UsageError

__all__ = [
    "DEFAULT_STAGES",
    "LATEST",
    "MLFLOW_STAGES",
    "ModelRef",
    "Target",
    "canonical_stage",
    "parse_target",
    "parse_uri",
    "reserved_alias",
    "stage_of",
    "version_named",
]

#: MLflow's model-version stages; ``None`` is the stage of a version in none of the others
MLFLOW_STAGES = ("None", "Staging", "Production", "Archived")
#: the stages an alias stands for, and which alias when policy.yaml has no ``stages:`` (the mapping Databricks
#: uses when moving workspaces from stages to aliases); ``Archived`` is "deprecated", ``None`` "no stage alias"
DEFAULT_STAGES: Mapping[str, str] = {"Production": "champion", "Staging": "challenger"}
#: the suffix (``models:/NAME/latest``) and the alias (``models:/NAME@latest``) that mean the newest version
LATEST = "latest"
_STAGE_LIST = ", ".join(MLFLOW_STAGES)


def canonical_stage(text: str) -> str | None:
    """MLflow's spelling of a stage named in any case (``production`` -> ``Production``), or None."""
    folded = text.lower()
    return next((s for s in MLFLOW_STAGES if s.lower() == folded), None)


def stage_of(version: int, held: Collection[str], deprecated: bool, stages: Mapping[str, str]) -> str:
    """The MLflow stage of a version that holds the aliases ``held``: ``Production`` or ``Staging`` when it holds
    the alias ``stages`` maps that stage to (Production first), ``Archived`` when deprecated, else ``None``."""
    for stage in ("Production", "Staging"):
        alias = stages.get(stage)
        if alias is not None and alias in held:
            return stage
    return "Archived" if deprecated else "None"


@dataclass(frozen=True)
class ModelRef:
    """A parsed ``models:/`` URI: a name plus exactly one of an alias, a version, a stage or ``latest``, and an
    optional artifact sub-path inside the version's artifact (``models:/NAME/3/sub/dir``)."""

    name: str
    alias: str | None = None
    version: int | None = None
    stage: str | None = None  # one of MLFLOW_STAGES, as MLflow spells it
    latest: bool = False
    path: str = ""

    def __str__(self) -> str:
        if self.alias is not None:
            head = f"models:/{self.name}@{self.alias}"
        elif self.stage is not None:
            head = f"models:/{self.name}/{self.stage}"
        elif self.latest:
            head = f"models:/{self.name}/{LATEST}"
        else:
            head = f"models:/{self.name}/{self.version}"
        return f"{head}/{self.path}" if self.path else head

    @property
    def base(self) -> ModelRef:
        """The same reference without its artifact sub-path."""
        return replace(self, path="")


_URI_SHAPES = (
    "expected models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/latest or models:/NAME/STAGE "
    f"(a stage is one of {_STAGE_LIST}), each optionally followed by /PATH inside the artifact"
)
_BAD_SEGMENT = re.compile(r"[\\\x00-\x1f\x7f]")


def _sub_path(uri: str, segments: list[str]) -> str:
    """The artifact sub-path after the model part: plain relative segments only (nothing that climbs out)."""
    for seg in segments:
        if seg in ("", ".", "..") or _BAD_SEGMENT.search(seg):
            raise UsageError(
                f"{uri!r}: the artifact path {'/'.join(segments)!r} must be relative segments without '', '.', "
                "'..', backslashes or control characters"
            )
    return "/".join(segments)


def _uri_name(uri: str, name: str) -> str:
    if not is_name(name):
        raise UsageError(f"{uri!r}: {name!r} is not a valid model name: use {NAME_RULE}")
    return name


def _uri_alias(uri: str, name: str, alias: str) -> ModelRef:
    """``@ALIAS`` of a URI: case-insensitive (mlgate's names are lowercase); ``latest`` is the newest version."""
    folded = alias.lower()
    if folded == LATEST:
        return ModelRef(name, latest=True)
    problem = reserved_alias(folded)
    if problem is not None:
        raise UsageError(f"{uri!r}: {problem}")
    if not is_name(folded):
        raise UsageError(f"{uri!r}: {alias!r} is not a valid alias name: use {NAME_RULE}")
    return ModelRef(name, alias=folded)


def _uri_suffix(uri: str, name: str, suffix: str) -> ModelRef:
    """``/SUFFIX`` of a URI, as MLflow reads it: a version (digits), ``latest`` (any case) or a stage (any case)."""
    if suffix.isascii() and suffix.isdigit():
        return ModelRef(name, version=int(suffix))
    if suffix.lower() == LATEST:
        return ModelRef(name, latest=True)
    stage = canonical_stage(suffix)
    if stage is None:
        raise UsageError(f"{uri!r}: {suffix!r} is not a version number, 'latest' or a stage (stages: {_STAGE_LIST})")
    return ModelRef(name, stage=stage)


#: the form a server resolves most, ``models:/NAME@ALIAS`` in lower case with no path, ALIAS a name the naming rules
#: accept (NAME_PATTERN's, anchored at the end) that is not reserved: answered by one match
_PLAIN_ALIAS_URI = re.compile(
    r"models:/([a-z0-9._-]+)@(?!latest\Z|v[0-9]+\Z)(" + NAME_PATTERN[1:-1].replace("$", r"\Z") + r")\Z"
)
_plain_match = _PLAIN_ALIAS_URI.match


def plain_alias(uri: str) -> tuple[str, str] | None:
    """``(NAME, ALIAS)`` when ``uri`` is ``models:/NAME@ALIAS`` spelt as :func:`parse_uri` would give it back (lower
    case, no path) with an alias that is not reserved; None for anything else, which :func:`parse_uri` reads.

    ALIAS follows the naming rules; NAME is not checked here: a caller that finds it in a registry whose names
    were checked (an index's) needs nothing more, and one that does not asks :func:`parse_uri`.
    """
    plain = _plain_match(uri)
    return None if plain is None else plain.group(1, 2)  # type: ignore[return-value]  # both always match


def parse_uri(uri: str) -> ModelRef:
    """Parse a ``models:/`` URI as MLflow does.

    ``models:/NAME@ALIAS`` (the alias in any case; ``@latest`` is the newest version), ``models:/NAME/VERSION``,
    ``models:/NAME/latest`` and ``models:/NAME/STAGE`` (``Production``, ``Staging``, ``Archived``, ``None``, in
    any case), each optionally followed by ``/PATH``, a file or folder inside the version's artifact. Aliases
    ``v<N>`` are reserved, as in MLflow. Anything else is a :class:`UsageError` saying what was expected.
    """
    plain = plain_alias(uri)
    if plain is not None and NAME_RE.match(plain[0]):  # the general rules' answer (a property test holds it)
        return ModelRef(plain[0], alias=plain[1])
    return _parse_uri(uri)


def _parse_uri(uri: str) -> ModelRef:
    text = uri.strip()
    if not text.startswith("models:/") or text.startswith("models://"):
        raise UsageError(f"{uri!r} is not a model URI: {_URI_SHAPES}")
    parts = text[len("models:/") :].rstrip("/").split("/")
    head = parts[0]
    if "@" in head:
        name, _, alias = head.partition("@")
        if not name or not alias or "@" in alias:
            raise UsageError(f"{uri!r} is not a model URI: {_URI_SHAPES}")
        ref = _uri_alias(uri, _uri_name(uri, name), alias)
        rest = parts[1:]
    else:
        if len(parts) < 2 or not head:
            hint = " (models:/ID names an MLflow logged model, which mlgate does not hold)" if head else ""
            raise UsageError(f"{uri!r} is not a model URI{hint}: {_URI_SHAPES}")
        ref = _uri_suffix(uri, _uri_name(uri, head), parts[1])
        rest = parts[2:]
    return replace(ref, path=_sub_path(uri, rest)) if rest else ref


def version_named(
    ref: ModelRef,
    aliases: Callable[[str], Mapping[str, int]],
    *,
    versions: Callable[[str], Collection[int]] | None = None,
    deprecated: Callable[[str], Collection[int]] | None = None,
    stages: Mapping[str, str] = DEFAULT_STAGES,
) -> int:
    """The version number ``ref`` names: its own, the one its alias (or its stage's alias) holds, or the newest.

    ``aliases(model)`` gives a model's aliases and their versions, ``versions(model)`` its version numbers and
    ``deprecated(model)`` its deprecated ones (asked only when needed: ``latest``, ``Archived``, ``None``);
    ``stages`` maps ``Production`` and ``Staging`` to aliases (policy.yaml's ``stages:``). The one rule both the
    registry snapshot and serving resolve by; :class:`UnknownAlias` lists the aliases there are, and a stage
    or ``latest`` with no version is an :class:`UnknownVersion` naming the stage.
    """
    if ref.version is not None:
        return ref.version
    if ref.alias is not None:
        held = aliases(ref.name)
        if ref.alias not in held:
            raise UnknownAlias(
                f"model {ref.name!r} has no alias {ref.alias!r}{did_you_mean(ref.alias, held)}; "
                f"aliases: {', '.join(sorted(held)) or 'none'}"
            )
        return held[ref.alias]
    if ref.stage in ("Production", "Staging"):
        alias = stages.get(ref.stage)
        if alias is None:
            raise UnknownAlias(
                f"{ref.base}: policy.yaml's stages: maps no alias to {ref.stage} "
                f"(stages: {', '.join(f'{s}: {a}' for s, a in stages.items()) or 'none'})"
            )
        held = aliases(ref.name)
        if alias not in held:
            raise UnknownAlias(
                f"{ref.base}: model {ref.name!r} has no version in stage {ref.stage} "
                f"(the alias {alias!r}, by policy.yaml's stages:); aliases: {', '.join(sorted(held)) or 'none'}"
            )
        return held[alias]
    if versions is None:
        raise ValueError("version_named needs versions() to resolve latest or a stage")  # a caller's bug
    numbers = list(versions(ref.name))
    if ref.latest:
        if not numbers:
            raise UnknownVersion(f"{ref.base}: model {ref.name!r} has no versions")
        return max(numbers)
    gone = set(deprecated(ref.name)) if deprecated is not None else set()
    if ref.stage == "Archived":
        candidates = [v for v in numbers if v in gone]
    else:  # "None": versions in no stage
        held_by = aliases(ref.name)
        staged = {held_by[a] for a in stages.values() if a in held_by}
        candidates = [v for v in numbers if v not in gone and v not in staged]
    if not candidates:
        raise UnknownVersion(f"{ref.base}: model {ref.name!r} has no version in stage {ref.stage}")
    return max(candidates)


# --- what a user typed where a model, alias or version is meant ------------------------------------------------

#: the forms a :class:`Target` can take: a bare model, an alias of it, one of its versions, the version in an
#: MLflow stage (``MODEL/Production``: the alias policy.yaml maps the stage to), or its newest (``MODEL/latest``)
Form = Literal["model", "alias", "version", "stage", "latest"]
FORMS: frozenset[Form] = frozenset(("model", "alias", "version", "stage", "latest"))
_SPELLING: dict[Form, str] = {
    "model": "MODEL",
    "alias": "MODEL@ALIAS",
    "version": "MODEL/VERSION",
    "latest": "MODEL/latest",
    "stage": "MODEL/STAGE",
}
_NAMES: dict[Form, str] = {
    "model": "a model",
    "alias": "an alias",
    "version": "a version",
    "stage": "a stage",
    "latest": "the newest version",
}


@dataclass(frozen=True)
class Target:
    """A model, one of its aliases or versions, a stage or its newest version, as a user named it (not yet
    looked up).

    At most one of ``alias``, ``version``, ``stage`` and ``latest`` is set. ``str()`` gives the canonical
    spelling (``MODEL``, ``MODEL@ALIAS``, ``MODEL/VERSION``, ``MODEL/Production``, ``MODEL/latest``), which
    :func:`parse_target` reads back to the same target.
    """

    model: str
    alias: str | None = None
    version: int | None = None
    stage: str | None = None
    latest: bool = False

    @property
    def form(self) -> Form:
        if self.alias is not None:
            return "alias"
        if self.version is not None:
            return "version"
        if self.stage is not None:
            return "stage"
        return "latest" if self.latest else "model"

    @property
    def ref(self) -> ModelRef:
        """The ``models:/`` reference of what the target names (a bare model names no version: UsageError)."""
        if self.form == "model":
            raise UsageError(f"{self.model!r} names a model, not a version: use MODEL@ALIAS or MODEL/VERSION")
        return ModelRef(self.model, alias=self.alias, version=self.version, stage=self.stage, latest=self.latest)

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.model}@{self.alias}"
        if self.version is not None:
            return f"{self.model}/{self.version}"
        if self.stage is not None:
            return f"{self.model}/{self.stage}"
        return f"{self.model}/{LATEST}" if self.latest else self.model


def _wanted(want: Collection[str]) -> str:
    # MODEL/latest and MODEL/STAGE are other spellings of a version and an alias: named only when alone
    main: tuple[Form, ...] = ("model", "alias", "version")
    other: tuple[Form, ...] = ("latest", "stage")
    forms = [_SPELLING[f] for f in main if f in want] or [_SPELLING[f] for f in other if f in want]
    return forms[0] if len(forms) == 1 else f"{', '.join(forms[:-1])} or {forms[-1]}"


def _alias_part(text: str, alias: str) -> Target:
    """``@ALIAS`` or a bare ALIAS: in any case (names are lowercase); ``latest`` is the newest version."""
    folded = alias.lower()
    if folded == LATEST:
        return Target("", latest=True)
    problem = reserved_alias(folded)
    if problem is not None:
        raise UsageError(f"{text!r}: {problem}")
    return Target("", alias=folded)


def _part(text: str, part: str) -> Target:
    """``part`` after a model name: ``@ALIAS``, ``/VERSION``, ``/latest``, ``/STAGE``, or a bare one of them."""
    if part.startswith("@"):
        return _alias_part(text, part[1:])
    body = part[1:] if part.startswith("/") else part
    if VERSION_RE.match(body):
        return Target("", version=int(body))
    if body.isascii() and body.isdigit():
        raise UsageError(f"{text!r}: {body!r} is not a version number: versions are 1, 2, 3... without leading zeros")
    if body.lower() == LATEST:
        return Target("", latest=True)
    stage = canonical_stage(body)
    if stage is not None:
        return Target("", stage=stage)
    if part.startswith("/"):
        raise UsageError(f"{text!r}: {body!r} is not a version number, 'latest' or a stage (stages: {_STAGE_LIST})")
    return _alias_part(text, body)


def parse_target(text: str, *, want: Collection[str] = FORMS, then: str | None = None) -> Target:
    """Parse what a user typed where a model, an alias or a version is meant.

    Accepted: ``MODEL``, ``MODEL@ALIAS``, ``MODEL/VERSION``, ``MODEL/latest`` (the newest version, as is
    ``MODEL@latest``), ``MODEL/STAGE`` (an MLflow stage in any case: ``Production`` and ``Staging`` are the
    aliases policy.yaml's ``stages:`` maps them to), and the same as ``models:/`` URIs. Aliases are read in any
    case; ``v<N>`` aliases are reserved (as in MLflow). ``then`` is an optional second argument naming a version
    or an alias of a bare MODEL (``show MODEL 3``, ``compare MODEL 2 champion``): ``3``, ``champion``,
    ``@champion``, ``latest`` or ``Production``. ``want`` is the forms the caller accepts; any other is a
    :class:`UsageError` saying what was expected, as is anything unparsable (never another exception,
    whatever the text).
    """
    if not want or not set(want) <= FORMS:
        raise ValueError(f"want must name some of {sorted(FORMS)}, not {want!r}")  # a caller's bug
    expected = _wanted(want)
    raw = text  # never stripped: "champion\n" is not the name champion (what is echoed must be what was asked)
    if raw.startswith("models:/"):
        ref = parse_uri(raw)
        if ref.path:
            raise UsageError(f"{text!r} names a path inside an artifact: expected {expected}")
        target = Target(ref.name, alias=ref.alias, version=ref.version, stage=ref.stage, latest=ref.latest)
    else:
        cut = min((i for i in (raw.find("@"), raw.find("/")) if i >= 0), default=len(raw))
        name, rest = raw[:cut], raw[cut:]
        if not name:
            raise UsageError(f"{text!r} names no model: expected {expected}")
        if not is_name(name):
            where = "" if name == text else f"{text!r}: "
            raise UsageError(f"{where}{name!r} is not a valid model name: use {NAME_RULE}")
        target = replace(_part(text, rest), model=name) if rest else Target(name)
    if then is not None:
        if target.form != "model":
            raise UsageError(f"{text!r} already names {_NAMES[target.form]}: drop the extra argument {then!r}")
        target = replace(_part(then, then), model=target.model)
    if target.alias is not None and not is_name(target.alias):
        raise UsageError(f"{text!r}: {target.alias!r} is not a valid alias name: use {NAME_RULE}")
    if target.form not in want:
        raise UsageError(f"{text!r} names {_NAMES[target.form]}: expected {expected}")
    return target


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known`` to a misspelled ``name``, or ``""``."""
    import difflib  # only on the way to an error message: not at every server's start-up

    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown(what: str, name: object, known: Iterable[object], *, where: str) -> str:
    """The one message for a name that is not there: ``no model 'x' in main; did you mean 'y'? (models: ...)``.

    ``what`` is "model", "alias" or "version" (its plural lists ``known``), ``where`` what was searched.
    """
    names = [str(k) for k in known]
    hint = did_you_mean(str(name), names) if what != "version" else ""
    plural = "aliases" if what == "alias" else f"{what}s"
    return f"no {what} {name!r} {where}{hint} ({plural}: {', '.join(names) or 'none'})"


def with_alias(text: str, alias: str | None, *, required: bool = True) -> Target:
    """``MODEL@ALIAS``, or ``MODEL`` with the alias given apart (an ``--alias`` option); both must agree.

    The alias must be exactly a name (no case folding: a write names the alias file), and not one MLflow
    reserves.

    ``required``: a target without an alias either way is a :class:`UsageError` (else it names the model).
    """
    for name in (alias, text.partition("@")[2] if "@" in text else None):
        # what a write names is a file name: exactly a name, never case-folded as a read of MLflow's URIs is
        problem = None if name is None else reserved_alias(name) or (None if is_name(name) else f"use {NAME_RULE}")
        if problem is not None:
            shown = f"{text!r}: {name!r}" if name != alias else f"--alias {alias!r}"
            raise UsageError(f"{shown} is not a valid alias name: {problem}")
    target = parse_target(text, want=("model", "alias"))
    if target.alias is not None and alias is not None and alias != target.alias:
        raise UsageError(f"{text!r} names the alias {target.alias!r} but --alias says {alias!r}: give one")
    if target.alias is None and alias is not None:
        target = parse_target(target.model, want=("alias",), then=f"@{alias}")
    if required and target.alias is None:
        raise UsageError(f"{text!r} names no alias: write MODEL@ALIAS or pass --alias ALIAS")
    return target
