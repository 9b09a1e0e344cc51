"""The catalog in a real browser (headless chromium): a reader clicks from the home page to a model, a version
and a comparison, searches, filters the audit trail, reads on a phone, and a hostile model card runs nothing.
Every page is checked by axe-core (no serious or critical violation) and for console errors, and a screenshot
of it is saved under the test's temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from mlgate.catalog import build_catalog
from mlgate.testing import RegistryRepo
from tests.benchmarks.synth import build as synthetic

MODEL_YAML = "registry/models/fraud-detector/model.yaml"
CARD = "registry/models/fraud-detector/versions/3/card.md"
HOSTILE_CARD = """# fraud-detector v3

<script>window.pwned = 1; document.title = "pwned"</script>

<img src=x onerror="window.pwned = 2">

[click me](javascript:window.pwned=3) and [data link](data:text/html,<script>window.pwned=4</script>)

<a href="javascript:window.pwned=5">raw link</a> <iframe src="javascript:window.pwned=6"></iframe>

![picture](javascript:window.pwned=7) ![chart](https://example.com/chart.png) [the docs](https://example.com/docs)

## Intended use

<b onmouseover="window.pwned = 8">Scoring</b> card transactions & nothing else.

## Training data

Q2.

## Evaluation

See eval.yaml.

## Limitations

None known.
"""


def _wait(driver: Any, condition: Callable[[Any], Any], timeout: float = 10) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _by(how: str) -> Any:
    from selenium.webdriver.common.by import By

    return getattr(By, how)


def _open(driver: Any, url: str) -> None:
    driver.get(url)
    _wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def _wider_than_the_screen(driver: Any) -> list[str]:
    """Elements that stick out past the right edge (a page readable on a phone has none; tables scroll inside)."""
    return driver.execute_script(
        "var w = document.documentElement.clientWidth, out = [];"
        "document.querySelectorAll('body *').forEach(function (el) {"
        " if (el.closest('.scroll') || el.closest('[hidden]')) return;"
        " var r = el.getBoundingClientRect(); if (r.right > w + 1) out.push(el.tagName + '.' + el.className); });"
        "return out;"
    )


def _check_page(driver: Any, axe: str, shots: Path, name: str) -> None:
    """No console error, no serious or critical accessibility violation; a screenshot."""
    driver.save_screenshot(str(shots / f"{name}.png"))
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], f"console errors on {name}: {errors}"
    driver.execute_script(axe)
    driver.set_script_timeout(60)
    found = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(function (r) {"
        " done(r.violations.map(function (v) { return {id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(function (n) { return n.target.join(' '); })}; }));"
        "}, function (e) { done([{id: 'axe failed', impact: 'critical', help: String(e), nodes: []}]); });"
    )
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert bad == [], f"accessibility violations on {name}: {bad}"


def _click(driver: Any, text: str) -> None:
    link = _wait(driver, lambda d: d.find_element(_by("LINK_TEXT"), text))
    old = driver.current_url
    link.click()
    _wait(driver, lambda d: d.current_url != old and d.execute_script("return document.readyState") == "complete")


def test_a_reader_clicks_from_home_to_a_model_a_version_and_a_comparison(
    repo: RegistryRepo, page: Any, serve_site: Callable[[Path], str], axe_source: str, tmp_path: Path
) -> None:
    result = build_catalog(repo.root, tmp_path / "site")
    base = serve_site(result.out)
    _open(page, base)
    assert page.find_element(_by("TAG_NAME"), "h1").text == "Models"
    home = page.find_element(_by("TAG_NAME"), "main").text
    assert "fraud-detector" in home and "@acme/fraud-ml" in home and "champion" in home
    _check_page(page, axe_source, tmp_path, "home")

    _click(page, "fraud-detector")
    assert page.current_url == base + "models/fraud-detector/"
    assert page.find_element(_by("TAG_NAME"), "h1").text == "fraud-detector"
    charts = page.find_elements(_by("CSS_SELECTOR"), "figure.chart svg")
    assert charts, "the model page draws a chart per metric"
    for svg in charts:  # one point per version (the example's fraud-detector has 3, each with every metric)
        points = svg.find_elements(_by("CSS_SELECTOR"), "circle.pt")
        assert sorted(int(p.get_attribute("data-version")) for p in points) == [1, 2, 3]
        assert svg.find_elements(_by("CSS_SELECTOR"), "circle.pt.held"), "the versions aliases hold are marked"
    rows = page.find_elements(_by("CSS_SELECTOR"), "table.versions tbody tr")
    assert [r.find_element(_by("TAG_NAME"), "th").text.split()[0] for r in rows] == ["v3", "v2", "v1"]
    assert page.find_elements(_by("CSS_SELECTOR"), "table.versions .delta.better, table.versions .delta.worse")
    _check_page(page, axe_source, tmp_path, "model")

    _click(page, "v3")
    assert page.current_url == base + "models/fraud-detector/versions/3/"
    main = page.find_element(_by("TAG_NAME"), "main").text
    for words in ("ffd468b897e58dfa1887f53487a8a5bcac4b751f6759966a313fa47175035ec1", "fraud-run-1111", "region=eu"):
        assert words in main
    assert page.find_elements(_by("CSS_SELECTOR"), "article.card h2"), "the model card is rendered"
    commit = page.find_element(_by("LINK_TEXT"), "1f0078f2645fc275cf5fc0c137e676f347364b97")
    assert (
        commit.get_attribute("href")
        == "https://github.com/acme/fraud-models/commit/1f0078f2645fc275cf5fc0c137e676f347364b97"
    )
    _check_page(page, axe_source, tmp_path, "version")

    _click(page, "Compare with the champion")
    assert "/models/fraud-detector/compare/" in page.current_url
    cells = [r.text for r in page.find_elements(_by("CSS_SELECTOR"), "table tbody tr")]
    assert any(c.startswith("auc") for c in cells)
    _check_page(page, axe_source, tmp_path, "compare")

    _click(page, "Audit")
    total = len(page.find_elements(_by("CSS_SELECTOR"), "table.audit tbody tr"))
    assert total > 0
    from selenium.webdriver.support.ui import Select

    Select(page.find_element(_by("ID"), "f-model")).select_by_value("churn-predictor")
    count = page.find_element(_by("ID"), "f-count")  # the rows are drawn again once the whole trail is loaded
    _wait(page, lambda d: " events match" in count.text and "this page" not in count.text)
    shown = [r for r in page.find_elements(_by("CSS_SELECTOR"), "table.audit tbody tr") if r.is_displayed()]
    assert 0 < len(shown) < total and all("churn-predictor" in r.text for r in shown)
    _check_page(page, axe_source, tmp_path, "audit")
    assert len(list(tmp_path.glob("*.png"))) == 5


def test_search_filters_models_versions_tags_and_owners_offline(
    repo: RegistryRepo, page: Any, serve_site: Callable[[Path], str], tmp_path: Path
) -> None:
    base = serve_site(build_catalog(repo.root, tmp_path / "site").out)
    _open(page, base + "models/search-ranker/")
    box = page.find_element(_by("ID"), "q")
    results = page.find_element(_by("ID"), "search-results")

    def found(query: str) -> list[str]:
        box.clear()
        box.send_keys(query)
        return [
            li.text
            for li in _wait(page, lambda d: results.is_displayed() and results.find_elements(_by("TAG_NAME"), "li"))
        ]

    assert found("churn") and all("churn-predictor" in r for r in found("churn"))
    assert any(r.endswith("fraud-detector") for r in found("payments"))  # a tag value
    assert any("fraud-detector" in r for r in found("@acme/fraud-ml"))  # an owner
    assert found("fraud v3") == ["version fraud-detector v3"]
    assert found("no-such-thing-anywhere") == ["No match"]
    found("churn-predictor v2")
    _click(page, "churn-predictor v2")
    assert page.current_url == base + "models/churn-predictor/versions/2/"
    page.save_screenshot(str(tmp_path / "search.png"))
    assert [e for e in page.get_log("browser") if e["level"] == "SEVERE"] == []


def test_a_hostile_model_card_runs_nothing_and_is_shown_as_text(
    repo: RegistryRepo, page: Any, serve_site: Callable[[Path], str], axe_source: str, tmp_path: Path
) -> None:
    repo.write(CARD, HOSTILE_CARD)
    repo.edit_yaml(MODEL_YAML, description='<script>window.pwned = 9</script>"><img src=x onerror="window.pwned=10">')
    repo.commit("A card and a description written to attack the catalog")
    base = serve_site(build_catalog(repo.root, tmp_path / "site").out)
    for name, path in (
        ("home", ""),
        ("model", "models/fraud-detector/"),
        ("version", "models/fraud-detector/versions/3/"),
    ):
        _open(page, base + path)
        main = page.find_element(_by("TAG_NAME"), "main")
        assert page.execute_script("return window.pwned === undefined"), name
        assert "pwned" not in page.title
        assert (
            page.execute_script(
                "var m = document.querySelector('main'); var bad = [];"
                "m.querySelectorAll('*').forEach(function (el) { for (var a of el.attributes) {"
                " if (a.name.startsWith('on') || /^\\s*(javascript|data):/i.test(a.value)) bad.push(el.outerHTML); } });"
                "return bad.concat(Array.from(m.querySelectorAll('script, img, iframe')).map(function (e) { return e.outerHTML; }));"
            )
            == []
        )
        if name != "version":  # the version page shows the version's description, not the model's
            assert "<script>window.pwned = 9</script>" in main.text, "the description is shown, escaped"
        _check_page(page, axe_source, tmp_path, f"hostile-{name}")
    card = page.find_element(_by("CSS_SELECTOR"), "article.card")
    assert '<script>window.pwned = 1; document.title = "pwned"</script>' in card.text
    assert '<img src=x onerror="window.pwned = 2">' in card.text
    assert "Scoring" in card.text and "& nothing else" in card.text
    assert "[click me](javascript:window.pwned=3)" in card.text, "a javascript: link stays text"
    docs = card.find_element(_by("LINK_TEXT"), "the docs")
    assert docs.get_attribute("href") == "https://example.com/docs" and "noopener" in docs.get_attribute("rel")
    picture = card.find_element(_by("PARTIAL_LINK_TEXT"), "image: chart")
    assert picture.get_attribute("href") == "https://example.com/chart.png", "an image is a link, never loaded"
    card.find_element(_by("TAG_NAME"), "p").click()
    assert page.execute_script("return window.pwned === undefined")
    assert [e for e in page.get_log("browser") if e["level"] == "SEVERE"] == []


def test_a_synthetic_registry_charts_one_point_per_version_and_reads_on_a_phone(
    page: Any, serve_site: Callable[[Path], str], axe_source: str, tmp_path: Path
) -> None:
    syn = synthetic(tmp_path / "registry", models=3, versions=12, promotions=30)
    result = build_catalog(syn.path, tmp_path / "site", ref="main")
    assert (result.models, result.versions) == (3, 36)
    base = serve_site(result.out)
    model = syn.model_names[1]
    page.execute_cdp_cmd(  # a phone's screen: 390 CSS pixels wide
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
    )
    _open(page, base)
    _click(page, model)
    charts = page.find_elements(_by("CSS_SELECTOR"), "figure.chart svg")
    assert len(charts) == 2  # auc and latency_p99_ms
    for svg in charts:
        assert len(svg.find_elements(_by("CSS_SELECTOR"), "circle.pt")) == 12
        held = svg.find_elements(_by("CSS_SELECTOR"), "circle.pt.held")
        assert {int(p.get_attribute("data-version")) for p in held} == {syn.champions[model], 2}
    assert page.execute_script("return window.innerWidth") == 390
    assert _wider_than_the_screen(page) == []
    _check_page(page, axe_source, tmp_path, "phone-model")
    _click(page, "v12")
    assert _wider_than_the_screen(page) == []
    _check_page(page, axe_source, tmp_path, "phone-version")
    page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.fixture(autouse=True)
def _browser_present() -> None:
    from tests.catalog.conftest import _need_browser

    _need_browser()
