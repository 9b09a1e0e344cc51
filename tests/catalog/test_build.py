"""``mlgate catalog`` as a user runs it: the site's files, the refusal to overwrite a folder it did not build,
an atomic rebuild, a catalog of a git ref, and ``--serve``."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Callable

import pytest

from mlgate.catalog import build_catalog
from mlgate.errors import InputError
from mlgate.testing import RegistryRepo
from tests.benchmarks.synth import build as synthetic

Ran = tuple[int, str, str]


def test_the_catalog_has_a_page_per_model_and_version_and_every_asset_inside(
    repo: RegistryRepo, run_cli: Callable[..., Ran], tmp_path: Path
) -> None:
    code, out, err = run_cli("-C", repo.root, "catalog", "-o", tmp_path / "site")
    assert (code, err) == (0, "")
    assert out.startswith("catalog of 3 models, 9 versions")
    site = tmp_path / "site"
    for page in (
        "index.html",
        "audit/index.html",
        "models/fraud-detector/index.html",
        "models/fraud-detector/versions/1/index.html",
        "models/churn-predictor/versions/4/index.html",
        "assets/site.css",
        "assets/site.js",
        "assets/search-index.js",
    ):
        assert (site / page).is_file(), page
    for html in site.rglob("*.html"):  # nothing fetched from another origin: no CDN, no font, no image
        text = html.read_text()
        assert not re.search(r'<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)="(?:[a-z]+:)?//', text), html
        assert "<script>" not in text, "no inline script (the Content-Security-Policy would refuse it)"
    history = json.loads((site / "audit/history.json").read_text())
    assert {e["kind"] for e in history["events"]} >= {"registration"}


def test_a_folder_it_did_not_build_is_refused_and_its_own_is_replaced_whole(
    repo: RegistryRepo, run_cli: Callable[..., Ran], tmp_path: Path
) -> None:
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("mine")
    code, out, err = run_cli("-C", repo.root, "catalog", "-o", mine)
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "is not a catalog mlgate built" in err
    assert (mine / "todo.txt").read_text() == "mine"

    site = tmp_path / "site"
    assert run_cli("-C", repo.root, "catalog", "-o", site)[0] == 0
    (site / "models/old-model").mkdir()
    repo.delete("registry/models/search-ranker")
    repo.commit("Remove search-ranker")
    assert run_cli("-C", repo.root, "catalog", "-o", site)[0] == 0
    assert sorted(p.name for p in (site / "models").iterdir()) == ["churn-predictor", "fraud-detector"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "repo", "site"], "no temporary folder left behind"


def test_a_catalog_of_a_ref_shows_that_commit(repo: RegistryRepo, run_cli: Callable[..., Ran], tmp_path: Path) -> None:
    first = repo.rev()
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    repo.commit("Promote fraud-detector v3 to champion (#12)")
    assert run_cli("-C", repo.root, "catalog", "--ref", first, "-o", tmp_path / "then")[0] == 0
    assert run_cli("-C", repo.root, "catalog", "--ref", "main", "-o", tmp_path / "now")[0] == 0
    then = (tmp_path / "then/models/fraud-detector/index.html").read_text()
    now = (tmp_path / "now/models/fraud-detector/index.html").read_text()
    assert '<th scope="row">champion</th><td><a href="versions/2/">v2</a>' in then
    assert '<th scope="row">champion</th><td><a href="versions/3/">v3</a>' in now
    assert "#12" in now and "#12" not in then  # who moved it, from which pull request


def test_serve_prints_the_url_serves_the_site_and_stops_on_ctrl_c(repo: RegistryRepo, tmp_path: Path) -> None:
    args = ["-m", "mlgate", "-C", str(repo.root), "catalog", "-o", str(tmp_path / "site"), "--serve", "--port", "0"]
    # Ctrl-C is SIGINT; a shell running this suite in the background may have it ignored, which its children
    # inherit (and then Python never raises KeyboardInterrupt): the server gets it as a terminal would send it
    with subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            proc.stdout.readline()  # what was built
            line = proc.stdout.readline()
            assert line.startswith("serving ") and "http://127.0.0.1:" in line
            url = line.split(" at ", 1)[1].split()[0]
            with urllib.request.urlopen(url + "models/fraud-detector/", timeout=10) as answer:
                assert b"<h1>fraud-detector</h1>" in answer.read()
        finally:
            os.kill(proc.pid, signal.SIGINT)
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()  # never leave the suite waiting on a server that did not stop
                raise
        assert code == 0
        assert "Traceback" not in proc.stderr.read()


def test_an_alias_whose_version_fails_todays_policy_is_marked_on_home_and_model_pages(
    repo: RegistryRepo, run_cli: Callable[..., Ran], tmp_path: Path
) -> None:
    policy = (repo.root / "registry/policy.yaml").read_text()
    repo.write("registry/policy.yaml", policy.replace("auc: {min: 0.85,", "auc: {min: 0.95,"))
    repo.commit("Tighten the champion's auc bound")
    assert run_cli("-C", repo.root, "catalog", "-o", tmp_path / "site")[0] == 0
    home = (tmp_path / "site/index.html").read_text()
    model = (tmp_path / "site/models/fraud-detector/index.html").read_text()
    # fraud-detector's champion is v2, with auc 0.902: under the new bound, on both pages
    for page in (home, model):
        assert "fails today's policy: metric auc: auc = 0.902 is below the minimum 0.95" in page
    assert "auc = 0.911" not in model, "the challenger's gate has its own bound (min 0.80): it passes"


def test_worker_processes_build_the_same_site_and_report_a_broken_manifest(tmp_path: Path) -> None:
    syn = synthetic(tmp_path / "registry", models=4, versions=5, promotions=8)
    alone = build_catalog(syn.path, tmp_path / "alone", ref="main", workers=1)
    shared = build_catalog(syn.path, tmp_path / "shared", ref="main", workers=2)
    files = sorted(p.relative_to(alone.out) for p in alone.out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(shared.out) for p in shared.out.rglob("*") if p.is_file())
    assert all((alone.out / f).read_bytes() == (shared.out / f).read_bytes() for f in files)
    assert (alone.pages, alone.versions) == (shared.pages, 20)

    broken = syn.path / f"registry/models/{syn.model_names[2]}/versions/3/version.yaml"
    broken.write_text(broken.read_text().replace("format: onnx", "format: [onnx"))
    with pytest.raises(InputError, match=r"versions/3/version\.yaml"):
        build_catalog(syn.path, tmp_path / "broken", workers=2)
    assert not (tmp_path / "broken").exists(), "nothing half-built is left"


def test_any_two_versions_compare_from_one_data_file_per_model_not_a_page_per_pair(tmp_path: Path) -> None:
    syn = synthetic(tmp_path / "registry", models=2, versions=30, promotions=5)
    result = build_catalog(syn.path, tmp_path / "site", ref="main")
    assert result.pages == len(list(result.out.rglob("index.html"))), "the count said is the pages written"
    model = syn.model_names[0]
    folder = result.out / "models" / model / "compare"
    pairs = [p for p in folder.iterdir() if p.is_dir()]
    assert 0 < len(pairs) <= 3, "only the pairs a reviewer asks for first are built in advance"
    data = (folder / "data.js").read_text()
    prefix = "window.MLGATE_COMPARE = "
    assert data.startswith(prefix)
    found = json.loads(data[len(prefix) :].rstrip().rstrip(";"))
    assert [v["v"] for v in found["versions"]] == list(range(1, 31))
    assert found["directions"]["auc"][0] == "higher" and set(found["versions"][0]["metrics"]) >= {"auc"}
    assert all(v["card"] and all(has for _, has in v["card"]) for v in found["versions"])
    page = (folder / "index.html").read_text()
    assert page.count('<option value="') == 60 and '<script src="data.js"></script>' in page
    assert "<script>" not in page, "no inline script: the Content-Security-Policy allows none"
    model_page = (result.out / "models" / model / "index.html").read_text()
    assert 'href="compare/"' in model_page and f'href="compare/?a={syn.champions[model]}&amp;b=30"' in model_page


def test_registry_text_in_the_compare_data_cannot_close_its_script(repo: RegistryRepo, tmp_path: Path) -> None:
    repo.edit_yaml("registry/models/fraud-detector/versions/3/version.yaml", description="</script><!-- Retrained")
    repo.commit("A description that tries to end the script it is written into")
    out = build_catalog(repo.root, tmp_path / "site").out
    data = (out / "models" / "fraud-detector" / "compare" / "data.js").read_text()
    assert "<" not in data and "\\u003c/script>\\u003c!-- Retrained" in data


def test_a_rebuild_after_one_promotion_rewrites_a_handful_of_pages_each_whole(
    repo: RegistryRepo, run_cli: Callable[..., Ran], tmp_path: Path
) -> None:
    """Replacing a catalog writes only the pages whose bytes changed, each renamed into place (a reader or web
    server sees the old page or the new one, never half of one), and removes the pages that no longer exist."""
    site = tmp_path / "site"

    def files(folder: Path) -> dict[str, bytes]:
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def fresh(n: int) -> Path:
        out = tmp_path / "fresh" / str(n)
        assert run_cli("-C", repo.root, "catalog", "--ref", "main", "-o", out)[0] == 0
        return out

    assert run_cli("-C", repo.root, "catalog", "--ref", "main", "-o", site)[0] == 0
    before = {p.relative_to(site).as_posix(): p.stat() for p in site.rglob("*") if p.is_file()}
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    repo.commit("Promote fraud-detector v3 to champion (#12)")
    assert run_cli("-C", repo.root, "catalog", "--ref", "main", "-o", site)[0] == 0
    after = {p.relative_to(site).as_posix(): p.stat() for p in site.rglob("*") if p.is_file()}
    assert files(site) == files(fresh(1)), "the same site as a build into an empty folder, byte for byte"
    changed = sorted(rel for rel in after if rel not in before or after[rel].st_ino != before[rel].st_ino)
    assert "index.html" in changed and "models/fraud-detector/index.html" in changed
    assert "audit/index.html" in changed and "audit/history.json" in changed
    assert not any(rel.startswith(("models/churn-predictor/", "assets/site.")) for rel in changed)
    assert len(changed) <= len(after) // 2, changed
    for rel in set(after) - set(changed):  # untouched: the same file, not written again
        assert after[rel].st_mtime_ns == before[rel].st_mtime_ns, rel
    assert "v3" in (site / "models/fraud-detector/index.html").read_text()

    # a model removed: its pages and folders go, nothing else is touched
    repo.delete("registry/models/search-ranker")
    repo.commit("Remove search-ranker")
    assert run_cli("-C", repo.root, "catalog", "--ref", "main", "-o", site)[0] == 0
    assert not (site / "models/search-ranker").exists()
    assert files(site) == files(fresh(2))
    kept = site / "models/churn-predictor/versions/1/index.html"
    assert kept.stat().st_ino == after["models/churn-predictor/versions/1/index.html"].st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "repo", "site"], "no temporary folder left"

    # a failed build changes nothing in the live catalog
    snapshot = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    (repo.root / "registry/models/fraud-detector/versions/3/version.yaml").write_text("kind: [\n")
    code, _, err = run_cli("-C", repo.root, "catalog", "-o", site)
    assert code == 2 and "version.yaml" in err
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == snapshot


def test_a_catalog_holding_a_link_is_replaced_whole_never_written_through(
    repo: RegistryRepo, run_cli: Callable[..., Ran], tmp_path: Path
) -> None:
    site, outside = tmp_path / "site", tmp_path / "outside"
    assert run_cli("-C", repo.root, "catalog", "-o", site)[0] == 0
    outside.mkdir()
    shutil.rmtree(site / "models/fraud-detector")
    (site / "models/fraud-detector").symlink_to(outside, target_is_directory=True)
    assert run_cli("-C", repo.root, "catalog", "-o", site)[0] == 0
    assert list(outside.iterdir()) == [], "nothing written through the link"
    assert (site / "models/fraud-detector").is_dir() and not (site / "models/fraud-detector").is_symlink()
    assert (site / "models/fraud-detector/versions/1/index.html").is_file()


def test_worker_processes_update_a_catalog_in_place_too(repo: RegistryRepo, tmp_path: Path) -> None:
    site, fresh = tmp_path / "site", tmp_path / "fresh"
    build_catalog(repo.root, site, ref="main", workers=2)
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    repo.commit("Promote fraud-detector v3 to champion (#12)")
    inode = (site / "models/churn-predictor/versions/2/index.html").stat().st_ino
    build_catalog(repo.root, site, ref="main", workers=2)
    build_catalog(repo.root, fresh, ref="main", workers=1)
    assert (site / "models/churn-predictor/versions/2/index.html").stat().st_ino == inode
    assert {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()} == {
        p.relative_to(fresh): p.read_bytes() for p in fresh.rglob("*") if p.is_file()
    }
