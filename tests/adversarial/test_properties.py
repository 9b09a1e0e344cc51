"""Property-based: whatever bytes or data arrive, the loader and the schema layer answer with a parsed
document or a clean mlgate error, never another exception."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate.check.rules import RULES
from mlgate.core.findings import Finding
from mlgate.infra import schemas
from mlgate.infra.yamlio import Document, YamlError, load
from mlgate.registry.loader import check_document, load_manifest

FAST = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

yaml_alphabet = st.sampled_from(
    list(string.printable) + ["&", "*", "!", "!!", "<<", "---", "...", ": ", "- ", "\t", "\x00", "\ufeff", "é"]
)
yamlish = st.lists(yaml_alphabet, max_size=200).map("".join)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)


@FAST
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_fail_cleanly(raw: bytes) -> None:
    try:
        doc = load(raw, "registry/x.yaml")
    except YamlError as e:
        assert e.rule in RULES and e.path == "registry/x.yaml"
    else:
        assert isinstance(doc, Document)


@FAST
@given(yamlish)
def test_yaml_like_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        load(text, "registry/x.yaml")
    except YamlError as e:
        assert e.rule in ("MG001", "MG002")


@FAST
@given(st.sampled_from(schemas.KINDS), json_values)
def test_any_data_gets_findings_not_exceptions(kind: str, data: object) -> None:
    doc = Document("registry/x.yaml", data, {}, {})
    findings = check_document(doc, kind)
    assert all(isinstance(f, Finding) and f.rule in RULES for f in findings)


@FAST
@given(
    st.sampled_from(schemas.KINDS),
    st.dictionaries(
        st.sampled_from(
            [
                "apiVersion",
                "kind",
                "model",
                "alias",
                "version",
                "name",
                "artifact",
                "lineage",
                "metrics",
                "dataset",
                "owners",
                "description",
                "admins",
                "aliases",
                "deprecated",
                "evidence",
                "policy",
            ]
        ),
        json_values,
        max_size=8,
    ),
)
def test_manifest_shaped_data_gets_findings_not_exceptions(kind: str, data: dict) -> None:
    data = {"apiVersion": "mlgate/v1", "kind": kind, **data}
    findings = check_document(Document("registry/x.yaml", data, {}, {}), kind)
    assert all(f.rule in RULES for f in findings)


class _OneFile:
    label, commit = "test", None

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def read(self, path: str, limit: int | None = None) -> bytes:
        return self.raw


@FAST
@given(st.sampled_from(schemas.KINDS), st.binary(max_size=500) | yamlish.map(str.encode))
def test_the_whole_manifest_pipeline_never_raises(kind: str, raw: bytes) -> None:
    doc, findings = load_manifest(_OneFile(raw), "registry/x.yaml", kind)
    assert (doc is None) == bool(findings)
