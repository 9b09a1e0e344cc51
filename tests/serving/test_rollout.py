"""Progressive rollouts in serving: every replica routes a key to the same arm, whatever the source; shadow mode;
refused candidates; the index carries rollouts; watch reports each rollout change and its revert. Real files,
real git, real processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate import serving
from mlgate.change.propose import promote, register
from mlgate.core.indexfmt import index_digest
from mlgate.forge.local import LocalForge
from mlgate.registry.index import build_index, write_index
from mlgate.testing import RegistryRepo, TrainingRun, merge_approved

MODEL = "fraud-detector"
URI = f"models:/{MODEL}@champion"
ALIAS_FILE = f"registry/models/{MODEL}/aliases/champion.yaml"
KEYS = [f"user-{i}" for i in range(100_000)]


@pytest.fixture
def rolling(tmp_path: Path) -> tuple[RegistryRepo, dict[int, Path]]:
    """fraud-detector v1, v2 and v3 with real artifacts, registered and merged by PR; v1 is the champion."""
    repo = RegistryRepo.create(tmp_path / "repo", example=False)
    repo.write(
        "registry/policy.yaml",
        "apiVersion: mlgate/v1\nkind: Policy\nadmins: [pat]\naliases:\n  '*': {approvals: {min: 1}}\n",
    )
    repo.commit("policy")
    forge = LocalForge(repo.root)
    files = {}
    for v in (1, 2, 3):
        training = TrainingRun.write(tmp_path / f"v{v}", artifact=os.urandom(2000 + v), metrics={"auc": 0.9 + v / 100})
        files[v] = training.artifact
        p = register(
            repo.root,
            MODEL,
            author="alice",
            model_description="Fraud.",
            owners=["alice"],
            forge=forge,
            **training.register_kwargs(),
        )
        merge_approved(repo.root, forge, p.pr.number, merger="pat")
    p = promote(repo.root, MODEL, 1, "champion", author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "bob")
    return repo, files


def _alias(version: int, rollout: dict | None = None) -> dict:
    data = {"apiVersion": "mlgate/v1", "kind": "Alias", "model": MODEL, "alias": "champion", "version": version}
    return {**data, "rollout": rollout} if rollout is not None else data


def _canary(percent: float, candidate: int = 3) -> dict:
    return {"candidate": candidate, "mode": "canary", "percent": percent, "started_at": "2026-11-24T10:00:00Z"}


def _share(arms: serving.Arms, keys: list[str]) -> float:
    return 100 * sum(arms.route(k).arm == "candidate" for k in keys) / len(keys)


def test_the_share_routed_to_the_candidate_is_the_percent(rolling) -> None:
    repo, _ = rolling
    source = serving.open_source(repo.root)
    for percent in (0.5, 1, 5, 25, 50, 90):
        repo.write(ALIAS_FILE, _alias(1, _canary(percent)))
        arms = serving.arms(URI, source)
        assert arms.candidate is not None and arms.candidate.version == 3
        assert abs(_share(arms, KEYS) - percent) <= 0.5, percent
    repo.write(ALIAS_FILE, _alias(1, _canary(100)))
    assert {serving.arms(URI, source).route(k).version for k in KEYS[:1000]} == {3}
    # what each arm is: the holder keeps the alias's version, the candidate carries the rollout, both the URI
    holder, candidate = serving.resolve(URI, source), serving.route(URI, "user-1", source)
    assert (holder.version, holder.arm, candidate.version, candidate.arm) == (1, "holder", 3, "candidate")
    assert candidate.uri == holder.uri == URI and candidate.rollout == holder.rollout == serving.Rollout(
        3, "canary", 100, "2026-11-24T10:00:00Z"
    )


def test_a_step_up_only_adds_keys_and_a_new_candidate_draws_its_own(rolling) -> None:
    repo, _ = rolling
    source = serving.open_source(repo.root)
    keys = KEYS[:20_000]
    seen = []
    for percent in (5, 25, 50):
        repo.write(ALIAS_FILE, _alias(1, _canary(percent)))
        arms = serving.arms(URI, source)
        seen.append({k for k in keys if arms.route(k).version == 3})
    assert seen[0] < seen[1] < seen[2]  # nobody who saw the candidate at 5% goes back to the holder at 25% or 50%
    repo.write(ALIAS_FILE, _alias(1, _canary(5, candidate=2)))
    arms = serving.arms(URI, source)
    other = {k for k in keys if arms.route(k).version == 2}
    assert len(other & seen[0]) < len(seen[0]) / 4  # another rollout is not always tried on the same users


def _arms_by_process(spec: str, cache: Path, keys: list[str]) -> list[int]:
    code = (
        "import json, sys; from mlgate import serving\n"
        "s = serving.open_source(sys.argv[1], **({'cache_dir': sys.argv[2]} if 'git+' in sys.argv[1] else {}))\n"
        "arms = serving.arms('models:/fraud-detector@champion', s)\n"
        "print(json.dumps([arms.route(k).version for k in json.load(sys.stdin)]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, spec, str(cache)], input=json.dumps(keys), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    versions: list[int] = json.loads(proc.stdout)
    return versions


def test_an_index_a_checkout_a_git_url_and_another_process_route_alike(rolling, tmp_path: Path) -> None:
    repo, files = rolling
    repo.write(ALIAS_FILE, _alias(1, _canary(25)))
    repo.commit("Roll out v3 to 25% of champion's traffic")
    index = tmp_path / "index.json"
    write_index(build_index(repo.root, "main"), index)
    git_url = f"git+{repo.root.as_uri()}#main"
    sources = {
        "index": serving.open_source(index),
        "checkout": serving.open_source(repo.root),
        "git": serving.open_source(git_url, cache_dir=tmp_path / "git"),
    }
    keys = KEYS[:5000]
    routes = {}
    for name, source in sources.items():
        assert serving.resolve(URI, source).rollout == serving.Rollout(3, "canary", 25, "2026-11-24T10:00:00Z"), name
        assert source.rollouts(MODEL) == {"champion": serving.Rollout(3, "canary", 25, "2026-11-24T10:00:00Z")}
        arms = serving.arms(URI, source)
        routes[name] = [arms.route(k).version for k in keys]
        assert [serving.route(URI, k, source).version for k in keys[:50]] == routes[name][:50]
    assert routes["index"] == routes["checkout"] == routes["git"]
    assert 20 < 100 * routes["index"].count(3) / len(keys) < 30
    # another process (another replica, or this one after a restart) puts every key on the same arm
    assert _arms_by_process(str(index), tmp_path / "git2", keys) == routes["index"]
    assert _arms_by_process(git_url, tmp_path / "git3", keys) == routes["index"]
    # MLflow's stage URI is the champion's traffic, rollout included; a version URI is never split
    production = serving.arms(f"models:/{MODEL}/Production", sources["index"])
    assert [production.route(k).version for k in keys] == routes["index"]
    assert {serving.route(f"models:/{MODEL}/1", k, sources["index"]).version for k in keys[:200]} == {1}
    assert serving.route(f"models:/{MODEL}/1", "user-1", sources["index"]).arm is None
    # fetch takes the candidate route returns: the candidate's own verified bytes
    for version in (1, 3):
        key = keys[routes["index"].index(version)]
        for source in sources.values():
            path = serving.fetch(serving.route(URI, key, source), cache_dir=tmp_path / "cache")
            assert path.read_bytes() == files[version].read_bytes()
    # an integer user id is its decimal string, on every replica
    assert serving.route(URI, 12345, sources["index"]) == serving.route(URI, "12345", sources["index"])


def test_shadow_mode_answers_from_the_holder_and_mirrors_a_share(rolling) -> None:
    repo, files = rolling
    source = serving.open_source(repo.root)
    assert serving.shadow(URI, source) is None and not serving.mirror(URI, "user-1", source)
    assert serving.resolve(URI, source).rollout is None and serving.route(URI, "user-1", source).arm is None
    repo.write(ALIAS_FILE, _alias(1, {"candidate": 3, "mode": "shadow", "percent": 10}))
    arms = serving.arms(URI, source)
    assert {arms.route(k).version for k in KEYS} == {1}  # the candidate answers nobody
    assert {serving.route(URI, k, source).arm for k in KEYS[:100]} == {"holder"}
    mirrored = serving.shadow(URI, source)
    assert mirrored is not None and (mirrored.version, mirrored.arm) == (3, "candidate")
    assert serving.fetch(mirrored).read_bytes() == files[3].read_bytes()
    share = 100 * sum(arms.mirror(k) for k in KEYS) / len(KEYS)
    assert abs(share - 10) <= 0.5
    assert [serving.mirror(URI, k, source) for k in KEYS[:300]] == [arms.mirror(k) for k in KEYS[:300]]
    # a canary mirrors nothing: its candidate answers instead
    repo.write(ALIAS_FILE, _alias(1, _canary(10)))
    assert serving.shadow(URI, source) is None and not any(serving.arms(URI, source).mirror(k) for k in KEYS[:1000])


def test_a_deprecated_or_missing_candidate_is_refused_never_replaced(rolling) -> None:
    repo, _ = rolling
    source = serving.open_source(repo.root)
    data = repo.read_yaml(f"registry/models/{MODEL}/model.yaml")
    data["deprecated"] = [{"version": 3, "reason": "leaked labels"}]
    repo.write(f"registry/models/{MODEL}/model.yaml", data)
    repo.write(ALIAS_FILE, _alias(1, _canary(5)))
    # the holder is resolved as ever, and every key is refused alike: no share quietly served by the holder
    assert serving.resolve(URI, source).version == 1
    for key in KEYS[:50]:
        with pytest.raises(serving.RolloutCandidateRefused, match=r"rollout of version 3: .*deprecated; refusing"):
            serving.route(URI, key, source)
    assert serving.route(URI, "user-1", source, allow_deprecated=True).version in (1, 3)  # said out loud
    repo.write(ALIAS_FILE, _alias(1, _canary(5, candidate=9)))
    with pytest.raises(serving.RolloutCandidateRefused, match=r"version 9 names a version .*\(versions: 1, 2, 3\)"):
        serving.arms(URI, source)
    # shadow: the holder keeps answering, but nothing is mirrored to a version that is not there
    repo.write(ALIAS_FILE, _alias(1, {"candidate": 9, "mode": "shadow", "percent": 50}))
    assert serving.route(URI, "user-1", source).version == 1
    with pytest.raises(serving.RolloutCandidateRefused, match="shadow rollout of version 9"):
        serving.shadow(URI, source)
    with pytest.raises(serving.RolloutCandidateRefused):
        serving.mirror(URI, "user-1", source)
    with pytest.raises(serving.RolloutKeyError, match="a routing key must be a string or an integer"):
        serving.route(URI, 4.2, source)  # type: ignore[arg-type]


def _rewrite(index: Path, change) -> None:
    data = json.loads(index.read_text())
    change(data["models"][MODEL])
    data["digest"] = index_digest(data)
    index.write_text(json.dumps(data))


def test_the_index_carries_rollouts_and_refuses_a_hostile_one(rolling, tmp_path: Path) -> None:
    repo, _ = rolling
    index = tmp_path / "index.json"
    write_index(build_index(repo.root, "main"), index)
    assert "rollouts" not in json.loads(index.read_text())["models"][MODEL]  # no rollout: the index as it was
    repo.write(ALIAS_FILE, _alias(1, {"candidate": 3, "mode": "shadow", "percent": 2.5}))
    repo.commit("shadow v3")
    write_index(build_index(repo.root, "main"), index)
    entry = json.loads(index.read_text())["models"][MODEL]
    assert entry["aliases"] == {"champion": 1}
    assert entry["rollouts"] == {"champion": {"candidate": 3, "mode": "shadow", "percent": 2.5}}
    assert serving.shadow(URI, serving.open_source(index)).version == 3
    # an index written before rollouts existed still loads: no rollout under way
    _rewrite(index, lambda m: m.pop("rollouts"))
    assert serving.resolve(URI, serving.open_source(index)).rollout is None
    hostile = {
        "a list": lambda m: m.update(rollouts=[]),
        "an unknown alias": lambda m: m.update(rollouts={"ghost": {"candidate": 3, "mode": "canary", "percent": 5}}),
        "percent 0": lambda m: m.update(rollouts={"champion": {"candidate": 3, "mode": "canary", "percent": 0}}),
        "percent 101": lambda m: m.update(rollouts={"champion": {"candidate": 3, "mode": "canary", "percent": 101}}),
        "percent text": lambda m: m.update(rollouts={"champion": {"candidate": 3, "mode": "canary", "percent": "5"}}),
        "percent true": lambda m: m.update(rollouts={"champion": {"candidate": 3, "mode": "canary", "percent": True}}),
        "mode": lambda m: m.update(rollouts={"champion": {"candidate": 3, "mode": "blue-green", "percent": 5}}),
        "candidate 0": lambda m: m.update(rollouts={"champion": {"candidate": 0, "mode": "canary", "percent": 5}}),
        "candidate text": lambda m: m.update(rollouts={"champion": {"candidate": "3", "mode": "canary", "percent": 5}}),
        "extra key": lambda m: m.update(
            rollouts={"champion": {"candidate": 3, "mode": "canary", "percent": 5, "x": 1}}
        ),
        "not an object": lambda m: m.update(rollouts={"champion": 5}),
    }
    for what, change in hostile.items():
        _rewrite(index, change)
        with pytest.raises(serving.ServingError, match="is not a valid mlgate index") as raised:
            serving.open_source(index)
        assert "\n" not in str(raised.value) and ("rollout" in str(raised.value)), what


def _merge(repo: RegistryRepo, name: str, content: dict) -> str:
    """The change merged into main as a pull request is (a branch, a commit, a merge commit)."""
    repo.branch(name, start="main")
    repo.write(ALIAS_FILE, content)
    repo.commit(name)
    return repo.merge(name)


def test_watch_reports_each_rollout_change_and_a_revert_as_its_inverse(rolling, tmp_path: Path) -> None:
    repo, _ = rolling
    index = tmp_path / "index.json"

    def publish() -> None:
        write_index(build_index(repo.root, "main"), index)

    publish()
    watchers = {
        "git": serving.Watcher(
            serving.open_source(f"git+{repo.root}#main", cache_dir=tmp_path / "git"), lambda m, e: None, 3600
        ),
        "checkout": serving.Watcher(serving.open_source(repo.root), lambda m, e: None, 3600),
        "index": serving.Watcher(serving.open_source(index), lambda m, e: None, 3600),
    }

    def poll() -> serving.AliasMove:
        publish()
        moves = {name: w.poll_once() for name, w in watchers.items()}
        assert moves["git"] == moves["checkout"] == moves["index"] and len(moves["git"]) == 1, moves
        return moves["git"][0]

    def move(old: int, new: int, before: dict | None, after: dict | None) -> serving.AliasMove:
        r = [None if b is None else serving.Rollout.from_manifest(b) for b in (before, after)]
        return serving.AliasMove(MODEL, "champion", old, new, r[0], r[1])

    steps = [
        ("start", "abort", _alias(1, _canary(5)), move(1, 1, None, _canary(5))),
        ("step", "step", _alias(1, _canary(25)), move(1, 1, _canary(5), _canary(25))),
        ("complete", "start", _alias(3), move(1, 3, _canary(25), None)),
        ("start", "abort", _alias(3, _canary(10, candidate=2)), move(3, 3, None, _canary(10, candidate=2))),
        ("abort", "start", _alias(3), move(3, 3, _canary(10, candidate=2), None)),
    ]
    for i, (kind, inverse_kind, content, expected) in enumerate(steps):
        merge = _merge(repo, f"change-{i}", content)
        got = poll()
        assert (got, got.kind) == (expected, kind)
        repo.git.git("revert", "--no-edit", "-m", "1", merge)  # the rollback of that pull request
        undone = poll()
        assert (undone, undone.kind) == (expected.inverse(), inverse_kind)
        repo.git.git("revert", "--no-edit", "HEAD")  # and the change again, to go on from there
        assert poll() == expected
    assert watchers["checkout"].rollouts == {} and watchers["checkout"].state == {(MODEL, "champion"): 3}
    # a plain promotion is reported as the AliasMove it always was
    _merge(repo, "promote-2", _alias(2))
    promoted = poll()
    assert (promoted, promoted.kind, promoted.rollout_change) == (
        serving.AliasMove(MODEL, "champion", 3, 2),
        "move",
        None,
    )


def test_the_readme_routing_example_runs(rolling, tmp_path: Path) -> None:
    from tests import ROOT

    repo, _ = rolling
    code = re.search(r"<!-- routing-example -->\n```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    assert len(code.strip().splitlines()) <= 15
    probe = "\nimport json; print(json.dumps([sorted(loaded), [predict(f'user-{i}', None) for i in range(2000)]]))\n"
    env = {**os.environ, "MLGATE_CACHE": str(tmp_path / "cache")}
    shadow = {"candidate": 2, "mode": "shadow", "percent": 50}
    for rollout, loaded, candidates in ((_canary(5), [1, 3], range(70, 131)), (shadow, [1, 2], range(0, 1))):
        repo.write(ALIAS_FILE, _alias(1, rollout))
        repo.commit(f"{rollout['mode']} rollout")
        write_index(build_index(repo.root, "main"), tmp_path / "registry-index.json")
        proc = subprocess.run(
            [sys.executable, "-c", code + probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        got_loaded, answers = json.loads(proc.stdout)
        assert got_loaded == loaded  # both arms' artifacts fetched and verified at start-up
        routed = sum(arm == "candidate" for _, arm in answers)
        assert routed in candidates, routed  # about 5% of 2,000 users on the canary; nobody in shadow mode
