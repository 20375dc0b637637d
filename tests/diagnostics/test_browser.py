"""The pages rnnlab writes, opened in a real headless browser (Debian's chromium, driven by Playwright).

Each page must load from its file with no network, with no console error, and with every image
decoded to a non-zero size; a screenshot of each is saved beside the page. `.ci/run` installs
chromium when it is missing; elsewhere, without chromium or Playwright, these tests are skipped.
"""

import shutil
from pathlib import Path

import pytest

from rnnlab.cli import main
from tests.diagnostics.test_report import train_tiny_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (.ci/run installs it)")


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def open_page(browser, path: Path) -> dict:
    """Load `path` offline; return the console errors, each image's (loaded, width, height) and a screenshot."""
    context = browser.new_context(offline=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.resolve().as_uri())
    images = page.eval_on_selector_all("img", "all => all.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    screenshot = path.with_suffix(".png")
    page.screenshot(path=str(screenshot), full_page=True)
    context.close()
    return {"errors": errors, "images": images, "screenshot": screenshot}


@pytest.mark.slow
@pytest.mark.parametrize("task", ["charlm", "forecast"])
def test_the_run_report_renders_in_a_browser(task, browser, tmp_path):
    run = train_tiny_run(task, tmp_path)
    assert main(["report", str(run)]) == 0
    shown = open_page(browser, run / "report.html")
    assert shown["errors"] == []
    assert shown["images"] and all(loaded and width > 0 and height > 0 for loaded, width, height in shown["images"])
    assert shown["screenshot"].stat().st_size > 10_000


@pytest.mark.slow
def test_the_hidden_unit_page_renders_in_a_browser(browser, tmp_path):
    run = train_tiny_run("charlm", tmp_path)
    assert main(["charlm", "neurons", "--ckpt", str(run), "--top", "1"]) == 0
    shown = open_page(browser, run / "neurons.html")
    assert shown["errors"] == []
    assert all(loaded and width > 0 for loaded, width, _ in shown["images"])
    assert shown["screenshot"].stat().st_size > 10_000
