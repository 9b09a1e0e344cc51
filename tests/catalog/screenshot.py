"""The README's screenshot of the catalog's model page, taken in the same headless chromium as the tests.

    python -m tests.catalog.screenshot docs/catalog-model.png

Builds the example registry with a short history (fraud-detector's champion moved by two pull requests, their
approvals read from the GitHub stand-in as publish.yml reads them with GitHub Actions' token) and saves the whole
fraud-detector page as a PNG.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from mlgate.catalog import build_catalog
from mlgate.catalog.serve import server
from mlgate.testing import RegistryRepo
from mlgate.testing.github import StandIn

CHAMPION = "registry/models/fraud-detector/aliases/champion.yaml"


def main(target: str) -> int:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    with tempfile.TemporaryDirectory() as tmp, StandIn() as gh:
        repo = RegistryRepo.create(Path(tmp) / "repo")
        repo.edit_yaml(CHAMPION, version=1)
        repo.commit("Promote fraud-detector v1 to champion (#3)", author="alice <alice@example.com>")
        first = repo.rev()
        repo.edit_yaml(CHAMPION, version=3)
        repo.commit("Promote fraud-detector v3 to champion (#9)", author="bob <bob@example.com>")
        # approvals read as publish.yml reads them with GitHub Actions' token: carol is named in the champion
        # gate; dave counts through a team that token cannot read, and the page says so
        gh.state.token_kind, gh.state.org_read = "app", "integration"
        gh.collaborators("alice", "bob", "carol", "dave")
        for number, author, sha in ((3, "alice", first), (9, "bob", repo.rev())):
            gh.add_pull(number, author, "a" * 40)
            gh.review(number, "carol", "APPROVED")
            gh.merge(number, sha, "carol")
        gh.review(9, "dave", "APPROVED")
        site = build_catalog(repo.root, Path(tmp) / "site", forge=gh.forge()).out
        repo.close()
        httpd = server(site, 0)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--window-size=1200,900",
        ):
            opts.add_argument(arg)
        driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
        try:
            driver.get(f"http://127.0.0.1:{httpd.server_address[1]}/models/fraud-detector/")
            WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1200, min(height, 2400))
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(target)
        finally:
            driver.quit()
            httpd.shutdown()
            httpd.server_close()
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/catalog-model.png"))
