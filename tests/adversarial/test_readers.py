"""The one alias reader: its fast path never disagrees with the full YAML parse, on generated hostile files.

The fast path exists for history's speed; it may answer "unsure" (None) as often as it likes, but whenever it
answers, the answer must be what the strict loader reads. Hypothesis builds alias files from lines that
are each harmless or hostile: quoted multi-line notes that contain `version:` lines, hex and octal
integers, comments, indentation, flow mappings, anchors, tags, document markers, CRLF, BOMs, duplicates.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlgate.infra.yamlio import YamlError, load
from mlgate.registry.readers import ManifestError, _fast_alias_version, alias_version, deprecations

HEAD = ["apiVersion: mlgate/v1", "kind: Alias", "model: fraud-detector", "alias: champion"]

LINES = st.sampled_from(
    [
        *HEAD,
        "version: 1",
        "version: 2",
        "version: 0x2",
        "version: 0o7",
        "version: 02",
        "version: +3",
        "version: 3.0",
        "version: 1 # comment",
        "version: '1'",
        'version: "2"',
        "version: !!int 3",
        "version: &v 4",
        "version: *v",
        "version: true",
        "version: 999999999",
        "version: 1000000000",
        "version:   5",
        "version:\t6",
        "version: 0",
        "note: plain words",
        "note: a, b; c (d)",
        'note: "quoted',
        'note: "closed"',
        "note: 'single",
        "note: |",
        "note: >-",
        "note: x  y",
        "note: trailing ",
        "note: a: b",
        "note: a #b",
        "note: [1, 2]",
        "note: {version: 9}",
        "  version: 7",
        " version: 8",
        "\tversion: 9",
        "version: 1\r",
        "# version: 5",
        "---",
        "...",
        "%YAML 1.2",
        "? version",
        ": 3",
        "- version: 1",
        "{version: 2}",
        "kind: Model",
        "apiVersion: mlgate/v2",
        "",
        "   ",
        "version : 1",
        "Version: 1",
        "versions: 1",
        "\ufeffversion: 1",
        "note: caf\u00e9",
        "alias: champion\u200b",
        '"',
        "'",
        'really"',
        "end'",
        "model: 1e5",
        "alias: null",
        "note: ~",
    ]
)


def _slow(raw: bytes) -> int | None:
    try:
        data = load(raw, "a.yaml").data
    except YamlError:
        return None
    if not isinstance(data, dict) or data.get("apiVersion") != "mlgate/v1" or data.get("kind") != "Alias":
        return None
    v = data.get("version")
    return v if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 999_999_999 else None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, min_size=1, max_size=10), st.booleans(), st.sampled_from(["\n", "\r\n"]))
@example(HEAD + ['note: "x', "version: 1", 'y"', "version: 0x2"], False, "\n")
def test_the_fast_path_agrees_with_the_full_parse(lines: list[str], with_head: bool, newline: str) -> None:
    raw = newline.join((HEAD if with_head else []) + lines).encode("utf-8") + b"\n"
    fast = _fast_alias_version(raw)
    if fast is not None:
        assert fast == _slow(raw), raw


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_random_text_never_crashes_the_readers(text: str) -> None:
    raw = ("\n".join(HEAD) + "\n" + text).encode("utf-8", "surrogatepass")
    for read in (lambda: alias_version(raw, "a.yaml"), lambda: deprecations(raw, "m.yaml")):
        try:
            read()
        except ManifestError as e:
            assert e.path and e.rule.startswith("MG")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("\n".join(HEAD) + "\nversion: 2\nnote: Promoted after the May shadow run.\n", 2),  # what mlgate writes
        ("\n".join(HEAD) + "\nversion: 0x2\n", 2),  # legal YAML 1.2: the full parse reads it
    ],
)
def test_alias_version_reads_what_yaml_reads(text: str, expected: int) -> None:
    assert alias_version(text.encode(), "a.yaml") == expected


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(HEAD) + "\nversion: true\n",
        "\n".join(HEAD) + "\nversion: 0\n",
        "\n".join(HEAD) + "\nversion: '3'\n",
        "\n".join(HEAD[:1] + ["kind: Model"] + HEAD[2:]) + "\nversion: 3\n",
        "- 1\n",
    ],
)
def test_alias_version_refuses_what_is_not_a_version(text: str) -> None:
    with pytest.raises(ManifestError):
        alias_version(text.encode(), "a.yaml")


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.integers(min_value=-(10**40), max_value=10**40).map(str),
        st.decimals(allow_nan=False, allow_infinity=False, places=None).map(
            lambda d: format(d, "f") if abs(d.adjusted()) < 30 else str(d)
        ),
        st.from_regex(r"[-+]?[0-9]{1,30}(\.[0-9]{0,30})?([eE][-+]?[0-9]{1,4})?", fullmatch=True),
    )
)
def test_numbers_are_bounded_and_exact(text: str) -> None:
    """Every number either loads as exactly what it says, or is refused with MG001 on its line and field."""
    from decimal import Decimal

    from mlgate.infra.yamlio import MAX_INT_DIGITS, exact

    try:
        value = load(f"metrics:\n  auc: {text}\n", "e.yaml").data["metrics"]["auc"]
    except YamlError as e:
        assert (e.rule, e.line, e.field) == ("MG001", 2, "metrics.auc")
        return
    if isinstance(value, str):  # not a YAML 1.2 number at all (e.g. '1E5' is, '1.5E' is not)
        return
    if isinstance(value, int):
        assert len(str(abs(value))) <= MAX_INT_DIGITS
    assert exact(value) == Decimal(text)
