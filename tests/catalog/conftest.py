"""A real browser for the catalog's tests: Debian's chromium driven by selenium through chromedriver, headless,
with a fresh profile and no background networking, reading a built site from a server on 127.0.0.1.

The browser tests skip only when chromium is not installed and ``MLGATE_REQUIRE_BROWSER`` is unset; ``.ci/run``
sets it (and ``MLGATE_AXE_JS``, the path of axe-core's ``axe.min.js``), so CI never skips them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlgate.catalog.serve import server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REQUIRED = bool(os.environ.get("MLGATE_REQUIRE_BROWSER"))


def _need_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing and not REQUIRED:
        pytest.skip(f"no browser ({', '.join(missing)} missing): apt-get install chromium chromium-driver")
    assert not missing, f"MLGATE_REQUIRE_BROWSER is set but {', '.join(missing)} is missing"


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless chromium for the session (a new page per test), logging the console."""
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """The browser with an empty console and a desktop window, for one test."""
    browser.set_window_size(1280, 900)
    browser.get("about:blank")
    browser.get_log("browser")  # drop what earlier tests left
    yield browser


@pytest.fixture
def serve_site() -> Iterator[Callable[[Path], str]]:
    """Serve a built site on 127.0.0.1 (any free port); returns its base URL."""
    started: list[Any] = []

    def start(folder: Path) -> str:
        httpd = server(folder, 0)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/"

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's axe.min.js ($MLGATE_AXE_JS), installed from npm by .ci/run."""
    path = os.environ.get("MLGATE_AXE_JS")
    if not path or not Path(path).is_file():
        if not REQUIRED:
            pytest.skip("axe-core not found: npm install axe-core@4 and set MLGATE_AXE_JS to its axe.min.js")
        raise AssertionError(f"MLGATE_REQUIRE_BROWSER is set but MLGATE_AXE_JS ({path!r}) is not axe.min.js")
    return Path(path).read_text()
