"""The loader's fast path reads plain block YAML exactly as the strict event-stream path does, or declines.

Whatever the fast path accepts must come out identical to the strict path (the data, each value's type, the text
a number was written as, every field's line); whatever the strict path refuses, the fast path must decline, so
the strict path's error is the one the user sees. Checked on the repository's manifests, on random data written
the ways people and tools write YAML, and on random lines of YAML-looking text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate.infra import yamlio
from mlgate.infra.yamlio import YamlError
from tests.infra.test_yamlio import BOMB

ROOT = Path(__file__).resolve().parents[2]


def strict(text: str) -> tuple[Any, dict, dict]:
    """The strict path alone (what :func:`yamlio.load` does when the fast path declines)."""
    builder = yamlio._Builder("f.yaml")
    try:
        for event in yaml.parse(text, Loader=yamlio._Loader):
            builder.feed(event)
    except yaml.YAMLError as e:
        raise YamlError(str(e), path="f.yaml") from None
    if builder.root is yamlio._MISSING or builder.root is None:
        raise YamlError("empty", path="f.yaml")
    return builder.root, builder.lines, builder.plain_text


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0 is not True; a Number keeps its text)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, yamlio.Number):
        return a.text == b.text and float(a) == float(b)
    return bool(a == b)


def agree(text: str) -> bool:
    """The fast path declined ``text`` or read it exactly as the strict path; True when it read it."""
    fast = yamlio._fast(text)
    try:
        expected = strict(text)
    except YamlError:
        assert fast is None, f"the fast path accepted what the strict path refuses: {text!r}"
        return False
    if fast is None:
        return False
    assert same(fast[0], expected[0]), (text, fast[0], expected[0])
    assert fast[1] == expected[1], (text, fast[1], expected[1])
    assert fast[2] == expected[2], (text, fast[2], expected[2])
    return True


def test_the_repository_manifests_read_the_same_and_most_take_the_fast_path() -> None:
    files = sorted((ROOT / "registry").rglob("*.yaml")) + sorted((ROOT / "tests").rglob("*.yaml"))
    taken = sum(agree(f.read_text(encoding="utf-8", errors="replace")) for f in files)
    assert files and taken >= len(files) // 2


def test_what_the_fast_path_reads_is_what_load_returns() -> None:
    text = (
        "apiVersion: mlgate/v1\nkind: Model\nname: m\nowners: ['@acme/ml', bob]\n"
        "metrics:\n  auc: 0.850\n  n: 12\n  ok: true\n  none:\n"
        "slices:\n- name: 'it''s'\n  auc: 1e-3\n-   name: \"b\"\n    auc: -2\n"
    )
    assert yamlio._fast(text) is not None
    doc = yamlio.load(text, "f.yaml")
    assert doc.data["metrics"]["auc"].text == "0.850" and doc.source_text(("metrics", "n")) == "12"
    assert doc.data["slices"] == [{"name": "it's", "auc": 0.001}, {"name": "b", "auc": -2}]
    assert doc.line_of(("slices", 1, "auc")) == 14 and doc.data["metrics"]["none"] is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' (first defined on line 1)"),
        ("a:\n  b: 1\n  b: 2\n", "duplicate key 'b'"),
        ("a: 1\n---\nb: 2\n", "more than one YAML document"),
        ("a: .nan\n", "NaN and infinity"),
        ("a: 1e999\n", "NaN and infinity"),
        ("a: 1234567890123456789\n", "more than 18 digits"),
        ("a: !!python/name:os.system\n", "is not allowed"),
        (BOMB, "alias bomb"),
        ("a: b: c\n", "mapping values are not allowed"),
        ("a: 'x\n", None),
        ("a: \x1b[31m\n", None),
        ("a: x\u202ey\n", "U+202E"),
        ("a:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(70)), "deeper than 64"),
        ("a:\n" + "- x\n" * 100_001, "more than 100,000 values"),
    ],
)
def test_every_refusal_is_the_strict_paths(text: str, words: str | None) -> None:
    """What the strict path refuses, the fast path declines: load raises the strict path's own error."""
    assert yamlio._fast(text) is None
    with pytest.raises(YamlError) as e:
        yamlio.load(text, "f.yaml")
    assert words is None or words in str(e.value)


# --- random documents ------------------------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "auc", "max_depth", "region=eu", "x.y", "k-1", "1", "true", "null", "on", "_z"])
WORDS = st.sampled_from(
    ["yes", "no", "on", "true", "False", "NULL", "~", "null", "1.10", "0x1f", "0o17", "1_000", "1:20", "-x", "- x",
     "a: b", "a #b", "#c", "x:", "'q'", '"d"', "it's", "1e3", ".5", "-.inf", ".nan", "+1", "007", "s3://b/k",
     "@team", "[x]", "{y}", "a, b", "*a", "&a", "!t", "|", ">", "%", "`", "?", "", " ", "a  b", "\\", "é", "\t"]
)  # fmt: skip
SCALARS = st.one_of(
    WORDS,
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.dictionaries(KEYS, DATA, min_size=1, max_size=5), st.sampled_from(["mlgate", "block", "flow", "indentless"]))
def test_random_data_written_as_tools_write_it(data: dict, style: str) -> None:
    if style == "mlgate":
        text = yamlio.dump(data)
    elif style == "indentless":  # PyYAML's default: sequences at their key's indent
        text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False)
    else:
        text = yaml.safe_dump(data, default_flow_style=style == "flow", sort_keys=False, width=40)
    agree(text)


LINE = st.tuples(
    st.sampled_from(["", " ", "  ", "   ", "    ", "\t"]),
    st.sampled_from(["", "- ", "-", "-  ", "- - "]),
    st.sampled_from(["", "a:", "b:", "a :", "key:", "a: ", "? ", "'a':", "x=y:", "#"]),
    st.one_of(WORDS, st.text(alphabet=" abc:#-'\"[],{}&*!0123456789.e", max_size=8)),
)


@SETTINGS
@given(st.lists(LINE, min_size=1, max_size=12))
def test_random_lines_of_yaml_looking_text(lines: list[tuple[str, str, str, str]]) -> None:
    agree("".join(f"{indent}{dash}{key}{value}\n" for indent, dash, key, value in lines))


@SETTINGS
@given(st.dictionaries(KEYS, DATA, min_size=1, max_size=5), st.data())
def test_random_data_with_one_line_changed(data: dict, draw: st.DataObject) -> None:
    """A valid document with one line replaced by YAML-looking text: still declined or read the same."""
    lines = yamlio.dump(data).splitlines()
    at = draw.draw(st.integers(0, len(lines) - 1))
    indent, dash, key, value = draw.draw(LINE)
    lines[at] = f"{indent}{dash}{key}{value}"
    agree("\n".join(lines) + "\n")
