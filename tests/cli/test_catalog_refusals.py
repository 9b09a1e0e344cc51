"""``mlgate catalog`` still refuses a manifest that fails its schema, however it reads the manifests.

The catalog reads every manifest through fast paths (all blobs of a commit in one ``git cat-file`` round, a
schema check compiled once per kind that answers for valid manifests, worker processes): none of them may
render an invalid manifest as if it were valid, and nothing read for one build is served to the next.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from mlgate.catalog import build_catalog
from mlgate.errors import InputError
from tests.benchmarks.synth import build as synthetic

Ran = tuple[int, str, str]

#: edits that keep the YAML valid but break the ModelVersion schema, each in a way jsonschema alone would see
#: only with mlgate's own rules (an integer is not a boolean nor 1001.0; a pattern's $ is the end of the text)
SCHEMA_BREAKS = {
    "boolean size": (r"size: \d+", "size: true"),
    "float size": (r"size: (\d+)", r"size: \1.0"),
    "unknown field": ("format: onnx", "format: onnx\n  colour: blue"),
    "format not a string": ("format: onnx", "format: [onnx]"),
    "trailing newline in a pattern": ("created_by: trainer", r'created_by: "trainer\\n"'),
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _break(path: Path, old: str, new: str) -> None:
    text, n = re.subn(old, new, path.read_text(), count=1)
    assert n == 1, f"{old!r} not in {path}"
    path.write_text(text)


@pytest.mark.parametrize("edit", SCHEMA_BREAKS, ids=list(SCHEMA_BREAKS))
def test_a_manifest_that_fails_its_schema_is_refused_in_one_line(
    edit: str, run_cli: Callable[..., Ran], tmp_path: Path
) -> None:
    syn = synthetic(tmp_path / "registry", models=3, versions=3, promotions=3)
    manifest = syn.path / f"registry/models/{syn.model_names[1]}/versions/2/version.yaml"
    _break(manifest, *SCHEMA_BREAKS[edit])
    _git(syn.path, "commit", "-qam", f"break: {edit}")
    site = tmp_path / "site"
    for args in (["--ref", "main"], []):  # from git objects (prefetched) and from the working tree
        code, out, err = run_cli("-C", syn.path, "catalog", *args, "-o", site)
        assert (code, out) == (2, ""), err
        assert err.strip().count("\n") == 0 and "versions/2/version.yaml" in err, err
        assert not site.exists(), "nothing half-built is left"


def test_worker_processes_refuse_it_too(tmp_path: Path) -> None:
    syn = synthetic(tmp_path / "registry", models=4, versions=3, promotions=4)
    _break(syn.path / f"registry/models/{syn.model_names[3]}/versions/3/version.yaml", r"size: \d+", "size: true")
    _git(syn.path, "commit", "-qam", "break")
    with pytest.raises(InputError, match=r"versions/3/version\.yaml"):
        build_catalog(syn.path, tmp_path / "site", ref="main", workers=2)
    assert not (tmp_path / "site").exists()


def test_a_changed_manifest_is_read_again_not_served_from_an_earlier_build(
    run_cli: Callable[..., Ran], tmp_path: Path
) -> None:
    """Blobs are read by id and each build reads its commit afresh: a manifest changed since the last build
    (committed, or only in the working tree) is checked again, and the catalog already there stays whole."""
    syn = synthetic(tmp_path / "registry", models=3, versions=3, promotions=3)
    site = tmp_path / "site"
    assert run_cli("-C", syn.path, "catalog", "--ref", "main", "-o", site)[0] == 0
    before = (site / "index.html").read_bytes()
    manifest = syn.path / f"registry/models/{syn.model_names[0]}/versions/1/version.yaml"
    _break(manifest, r"size: \d+", "size: -1")
    code, _, err = run_cli("-C", syn.path, "catalog", "-o", site)  # the working tree: the tampered file
    assert code == 2 and "versions/1/version.yaml" in err, err
    assert run_cli("-C", syn.path, "catalog", "--ref", "main", "-o", site)[0] == 0  # main is still valid
    _git(syn.path, "commit", "-qam", "tamper")
    code, _, err = run_cli("-C", syn.path, "catalog", "--ref", "main", "-o", site)
    assert code == 2 and "versions/1/version.yaml" in err, err
    assert (site / "index.html").read_bytes() == before, "the earlier catalog is left as it was"
