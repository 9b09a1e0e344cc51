"""The strict YAML loader: every hazard is refused with the right rule and line, quickly."""

from __future__ import annotations

import pytest

from mlgate.infra import yamlio
from mlgate.infra.yamlio import YamlError, load

BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def test_plain_scalars_follow_yaml_1_2() -> None:
    doc = load(
        "a: yes\nb: no\nc: on\nd: off\ne: 1.10\nf: '1.10'\ng: 1_000\nh: 1:20\ni: true\nj: ~\nk: 0x1f\nl: 2026-01-01\n",
        "f.yaml",
    )
    assert doc.data == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": "off",
        "e": 1.1,
        "f": "1.10",
        "g": "1_000",
        "h": "1:20",
        "i": True,
        "j": None,
        "k": 31,
        "l": "2026-01-01",
    }
    # the number keeps the text it was written as, so a string field can say "quote it"
    assert doc.source_text(("e",)) == "1.10"
    assert doc.source_text(("f",)) is None


def test_lines_are_recorded_per_field() -> None:
    doc = load("a: 1\nb:\n  c:\n    - x\n    - y: 2\n", "f.yaml")
    assert doc.line_of(("a",)) == 1
    assert doc.line_of(("b", "c", 1, "y")) == 5
    assert doc.line_of(("b", "c", 1, "missing")) == 5  # nearest known ancestor


def test_explicit_standard_tags() -> None:
    assert load("a: !!str yes\nb: !!int '3'\nc: !!float 3\n", "f").data == {"a": "yes", "b": 3, "c": 3.0}


@pytest.mark.parametrize(
    ("text", "rule", "line", "words"),
    [
        ("a: 1\nb: 2\na: 3\n", "MG001", 3, "duplicate key 'a' (first defined on line 1)"),
        ("a: !!python/object/apply:os.system ['id']\n", "MG001", 1, "is not allowed"),
        ("a: !!python/name:os.system\n", "MG001", 1, "is not allowed"),
        ("a: !!binary aGVsbG8=\n", "MG001", 1, "is not allowed"),
        ("a: !!timestamp 2026-01-01\n", "MG001", 1, "is not allowed"),
        ("a: !custom x\n", "MG001", 1, "is not allowed"),
        ("a: !!set {x: null}\n", "MG001", 1, "is not allowed"),
        ("a: !!bool yes\n", "MG001", 1, "not a valid bool"),
        ("a: 1\n---\nb: 2\n", "MG001", 2, "more than one YAML document"),
        ("", "MG001", 1, "file is empty"),
        ("# just a comment\n", "MG001", 1, "file is empty"),
        ("---\n", "MG001", 1, "file is empty"),
        ("a: .nan\n", "MG001", 1, "NaN and infinity"),
        ("a: -.inf\n", "MG001", 1, "NaN and infinity"),
        ("a: 1e999\n", "MG001", 1, "NaN and infinity"),
        ("base: &b {x: 1}\nc:\n  <<: *b\n", "MG001", 3, "merge keys"),
        ("? [a, b]\n: 1\n", "MG001", 1, "keys must be plain strings"),
        ("x: &k a\n*k : 1\n", "MG001", 2, "not aliases"),
        ("a: *nowhere\n", "MG001", 1, "no anchor"),
        ("a: b: c\n", "MG001", 1, "mapping values are not allowed"),
        ("a: [1, 2\n", "MG001", 2, None),
        ("a: 1\nb: \x07\n", "MG001", 2, "#x0007"),
        (BOMB, "MG002", 6, "alias bomb"),
        ("[" * 100_000 + "]" * 100_000, "MG002", 1, "deeper than 64"),
        ("- " * 100_000 + "x", "MG002", 1, "deeper than 64"),
    ],
)
def test_refused(text: str, rule: str, line: int, words: str | None) -> None:
    with pytest.raises(YamlError) as info:
        load(text, "registry/x.yaml")
    err = info.value
    assert (err.rule, err.line, err.path) == (rule, line, "registry/x.yaml")
    if words:
        assert words in err.message


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"a: \xff\xfe\n", "not valid UTF-8"),
        (b"\xff\xfea\x00:\x00", "UTF-16"),
        (b"a: 1\x00\n", "NUL byte"),
    ],
)
def test_bad_bytes(raw: bytes, words: str) -> None:
    with pytest.raises(YamlError, match=words) as info:
        load(raw, "f.yaml")
    assert info.value.rule == "MG001"


def test_utf8_bom_is_accepted() -> None:
    assert load(b"\xef\xbb\xbfa: 1\n", "f").data == {"a": 1}


def test_size_limit_is_checked_before_parsing() -> None:
    big = b"a: '" + b"x" * yamlio.MAX_BYTES + b"'\n"
    with pytest.raises(YamlError, match="limited to 1,048,576 bytes") as info:
        load(big, "f.yaml")
    assert info.value.rule == "MG002"
    with pytest.raises(YamlError, match="1 MiB"):
        load(big.decode(), "f.yaml")


def test_aliases_within_limits_are_shared_not_copied() -> None:
    doc = load("a: &x {k: [1, 2]}\nb: *x\n", "f")
    assert doc.data["a"] == doc.data["b"] == {"k": [1, 2]}


def test_dump_round_trips_and_quotes_ambiguous_strings() -> None:
    data = {"version": 3, "note": "yes", "python": "3.10", "when": "2026-01-01T00:00:00Z", "list": ["a", {"b": 1}]}
    text = yamlio.dump(data)
    assert "'yes'" in text and "'3.10'" in text
    assert load(text, "f").data == data
    assert list(load(text, "f").data) == list(data)  # key order kept
