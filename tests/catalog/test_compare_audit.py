"""The catalog's interactive pages in a real browser (headless chromium): any two versions compared from the
pickers on ``models/NAME/compare/`` and by a deep link, a hostile description or parameter shown as text there,
and the audit filters searching the whole trail, past its first page of 2,000 events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from mlgate.catalog import build_catalog
from mlgate.testing import RegistryRepo
from tests.benchmarks.synth import build as synthetic
from tests.catalog.test_browser import _by, _check_page, _click, _open, _wait, _wider_than_the_screen

VERSION_3 = "registry/models/fraud-detector/versions/3/version.yaml"
HOSTILE = '<script>window.pwned = 1</script>"><img src=x onerror="window.pwned=2">'


def _metrics(repo: RegistryRepo, n: int) -> dict[str, float]:
    text = (repo.root / f"registry/models/fraud-detector/versions/{n}/eval.yaml").read_text()
    found: dict[str, float] = yaml.safe_load(text)["metrics"]
    return found


def _metric_rows(page: Any) -> dict[str, list[str]]:
    rows = page.find_elements(_by("CSS_SELECTOR"), "#cmp-out table.metrics tbody tr")
    return {
        r.find_element(_by("TAG_NAME"), "th").text: [c.text for c in r.find_elements(_by("TAG_NAME"), "td")]
        for r in rows
    }


def _sides(page: Any) -> list[str]:
    return [h.text.split()[1] for h in page.find_elements(_by("CSS_SELECTOR"), "#cmp-out .side h2")]


def test_a_reader_compares_any_two_versions_and_shares_the_link(
    repo: RegistryRepo, page: Any, serve_site: Callable[[Path], str], axe_source: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    base = serve_site(build_catalog(repo.root, tmp_path / "site").out)
    _open(page, base + "models/fraud-detector/")
    _click(page, "Compare any two versions")
    # the champion (v2) against the latest (v3) until the reader picks others
    _wait(page, lambda d: d.current_url == base + "models/fraud-detector/compare/?a=2&b=3")
    assert _sides(page) == ["v2", "v3"]

    Select(page.find_element(_by("ID"), "cmp-a")).select_by_value("1")
    picker_b = page.find_element(_by("ID"), "cmp-b")
    picker_b.send_keys(Keys.END)  # the keyboard works the pickers: the last option is v1, the oldest
    picker_b.send_keys(Keys.UP)  # v2
    _wait(page, lambda d: _sides(d) == ["v1", "v2"])
    assert page.current_url == base + "models/fraud-detector/compare/?a=1&b=2"
    assert page.find_element(_by("ID"), "cmp-link").get_attribute("href") == page.current_url
    one, two = _metrics(repo, 1), _metrics(repo, 2)
    rows = _metric_rows(page)
    assert set(rows) == set(one)
    for name, (a, b, delta, _) in rows.items():
        assert (float(a), float(b)) == (one[name], two[name])
        assert delta.startswith("+" if two[name] >= one[name] else "-")
        assert abs(float(delta.split()[0]) - (two[name] - one[name])) < 1e-9
    # auc: higher is better (the policy's min bound) and v2's is higher; latency: lower is better, v2's is higher
    auc = page.find_element(
        _by("XPATH"), "//table[contains(@class,'metrics')]//tr[th='auc']//span[contains(@class,'delta')]"
    )
    assert "better" in auc.get_attribute("class") and "(better)" in auc.get_attribute("textContent")
    latency = page.find_element(
        _by("XPATH"), "//table[contains(@class,'metrics')]//tr[th='latency_p99_ms']//span[contains(@class,'delta')]"
    )
    assert "worse" in latency.get_attribute("class")
    main = page.find_element(_by("ID"), "cmp-out").text
    for words in ("learning_rate", "fraud-run-", "onnxruntime", "sha256", "Intended use", "has content"):
        assert words in main, words
    _check_page(page, axe_source, tmp_path, "compare-any")

    # a deep link opens its pair; a version the model lacks is said, not guessed silently
    _open(page, base + "models/fraud-detector/compare/?a=3&b=1")
    _wait(page, lambda d: _sides(d) == ["v3", "v1"])
    assert Select(page.find_element(_by("ID"), "cmp-a")).first_selected_option.get_attribute("value") == "3"
    assert [float(x) for x in _metric_rows(page)["auc"][:2]] == [_metrics(repo, 3)["auc"], _metrics(repo, 1)["auc"]]
    _open(page, base + "models/fraud-detector/compare/?a=9&b=1")
    note = _wait(
        page, lambda d: d.find_element(_by("ID"), "cmp-note").is_displayed() and d.find_element(_by("ID"), "cmp-note")
    )
    assert "no version 9" in note.text
    assert _sides(page) == ["v2", "v1"]

    # each row of the model page compares its version with the champion
    _open(page, base + "models/fraud-detector/")
    row = page.find_element(_by("XPATH"), "//table[contains(@class,'versions')]//tr[th/a='v1']")
    row.find_element(_by("LINK_TEXT"), "compare with champion").click()
    _wait(page, lambda d: _sides(d) == ["v2", "v1"])
    assert page.current_url == base + "models/fraud-detector/compare/?a=2&b=1"
    # and a comparison built in advance still opens, with a way to pick others
    _open(page, base + "models/fraud-detector/compare/2-3/")
    _click(page, "Choose other versions to compare")
    _wait(page, lambda d: _sides(d) == ["v2", "v3"])
    assert [e for e in page.get_log("browser") if e["level"] == "SEVERE"] == []


def test_a_hostile_description_or_parameter_on_the_compare_page_runs_nothing(
    repo: RegistryRepo, page: Any, serve_site: Callable[[Path], str], axe_source: str, tmp_path: Path
) -> None:
    doc = yaml.safe_load((repo.root / VERSION_3).read_text())
    doc["description"] = HOSTILE
    doc["lineage"]["params"]["objective"] = "</script><script>window.pwned = 3</script>"
    doc["lineage"]["environment"]["python"] = "<img src=x onerror=window.pwned=4>"
    repo.write(VERSION_3, yaml.safe_dump(doc, sort_keys=False))
    repo.commit("A version written to attack the compare page")
    base = serve_site(build_catalog(repo.root, tmp_path / "site").out)
    _open(page, base + "models/fraud-detector/compare/?a=2&b=3")
    out = _wait(page, lambda d: _sides(d) == ["v2", "v3"] and d.find_element(_by("ID"), "cmp-out"))
    assert page.execute_script("return window.pwned === undefined")
    assert HOSTILE in out.text, "the description is shown as text"
    assert "</script><script>window.pwned = 3</script>" in out.text
    assert "<img src=x onerror=window.pwned=4>" in out.text
    assert page.execute_script("return document.querySelectorAll('main script, main img, main iframe').length") == 0
    page.find_element(_by("ID"), "cmp-swap").click()
    _wait(page, lambda d: _sides(d) == ["v3", "v2"])
    assert page.execute_script("return window.pwned === undefined")
    _check_page(page, axe_source, tmp_path, "compare-hostile")

    page.execute_cdp_cmd(  # on a phone's screen, 390 CSS pixels wide, nothing sticks out (wide tables scroll)
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
    )
    try:
        _open(page, base + "models/fraud-detector/compare/?a=1&b=3")
        _wait(page, lambda d: _sides(d) == ["v1", "v3"])
        assert _wider_than_the_screen(page) == []
        page.save_screenshot(str(tmp_path / "compare-phone.png"))
    finally:
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_the_audit_filters_search_the_whole_trail_past_its_first_page(
    page: Any, serve_site: Callable[[Path], str], axe_source: str, tmp_path: Path
) -> None:
    from selenium.webdriver.support.ui import Select

    syn = synthetic(tmp_path / "registry", models=2, versions=4, promotions=2050)
    result = build_catalog(syn.path, tmp_path / "site", ref="main")
    assert result.events > 2000
    events = json.loads((result.out / "audit" / "history.json").read_text())["events"]
    # the registrations are the oldest events: on the trail's second page only
    registrations = [ev for ev in events if ev["kind"] == "registration" and ev["model"] == syn.model_names[1]]
    assert registrations and all(events.index(ev) >= 2000 for ev in registrations)
    base = serve_site(result.out)
    _open(page, base + "audit/")
    first_page = page.find_elements(_by("CSS_SELECTOR"), "table.audit tbody tr")
    assert len(first_page) == 2000 and not any("registration" in r.text for r in first_page[:50])

    # before any filter is used, each one offers every value of the whole trail, from the page itself: the trail
    # (audit/history.js, megabytes on a large registry) is not loaded until a filter is used
    def offered(select_id: str) -> list[str]:
        options = page.find_elements(_by("CSS_SELECTOR"), f"#{select_id} option")
        return [o.get_attribute("value") for o in options]

    assert offered("f-kind") == ["", *sorted({ev["kind"] for ev in events})]
    assert "registration" in offered("f-kind")
    assert offered("f-model") == ["", *sorted({ev["model"] for ev in events if ev["model"]})]
    assert offered("f-alias") == ["", *sorted({ev["alias"] for ev in events if ev["alias"]})]
    people = {p for ev in events for p in (ev["author"], ev["merger"]) if p}
    assert offered("f-people") == sorted(people, key=str.lower)
    assert page.find_element(_by("ID"), "f-person").get_attribute("list") == "f-people"
    loaded = "return performance.getEntriesByType('resource').map(function (r) { return r.name; })"
    assert not any(name.endswith("audit/history.js") for name in page.execute_script(loaded))

    kind = page.find_element(_by("ID"), "f-kind")
    Select(kind).select_by_value("registration")
    Select(page.find_element(_by("ID"), "f-model")).select_by_value(syn.model_names[1])
    count = page.find_element(_by("ID"), "f-count")
    _wait(page, lambda d: count.text.startswith(f"{len(registrations)} of {len(events)} events match"))
    rows = page.find_elements(_by("CSS_SELECTOR"), "table.audit tbody tr")
    assert len(rows) == len(registrations)
    assert {r.find_elements(_by("TAG_NAME"), "td")[-1].text for r in rows} == {
        ev["commit"][:12] for ev in registrations
    }
    assert all(syn.model_names[1] in r.text and "registration" in r.text for r in rows)
    _check_page(page, axe_source, tmp_path, "audit-whole-trail")

    # a person over the whole trail: more matches than one screen, in pages of 200
    Select(kind).select_by_value("")
    Select(page.find_element(_by("ID"), "f-model")).select_by_value("")
    person = page.find_element(_by("ID"), "f-person")
    person.send_keys("alice")
    alice = [ev for ev in events if "alice" in (ev["author"] or "").lower()]
    assert len(alice) > 200
    _wait(page, lambda d: count.text.startswith(f"{len(alice)} of {len(events)} events match (1 to 200 shown)"))
    page.find_element(_by("ID"), "f-next").click()
    _wait(page, lambda d: "(201 to 400 shown)" in count.text)
    rows = page.find_elements(_by("CSS_SELECTOR"), "table.audit tbody tr")
    assert [r.find_elements(_by("TAG_NAME"), "td")[-1].text for r in rows] == [
        ev["commit"][:12] for ev in alice[200:400]
    ]
    assert not any(p.is_displayed() for p in page.find_elements(_by("CSS_SELECTOR"), "nav.pager.static"))
    person.clear()
    person.send_keys(" ")  # no filter left: the page's own 2,000 rows and its page links again
    _wait(page, lambda d: count.text == f"2000 of {len(events)} events on this page")
    assert page.find_element(_by("CSS_SELECTOR"), "nav.pager.static").is_displayed()
    assert [e for e in page.get_log("browser") if e["level"] == "SEVERE"] == []


@pytest.fixture(autouse=True)
def _browser_present() -> None:
    from tests.catalog.conftest import _need_browser

    _need_browser()
