"""End to end: the real app in a subprocess, asked a decision question in headless Chromium.

Uses the system Chromium (never downloads a browser) through Playwright's sync API. The
final screenshot is copied to docs/screenshot-answer.png for the README.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pypdf import PdfReader
from test_app import CORPUS, QUESTION, ROOT

pytest_plugins = ["fixtures_index"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts"
SCREENSHOT = ROOT / "docs" / "screenshot-answer.png"
# installed by scripts/setup.sh --test (npm package axe-core)
AXE = ROOT / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not become healthy within {timeout:.0f} s")


@pytest.fixture(scope="module")
def app_url(sample_index, tmp_path_factory):
    index = sample_index
    port = _free_port()
    env = dict(os.environ, KOMMUNESOEG_INDEX=str(index), KOMMUNESOEG_CORPUS=str(CORPUS))
    env.pop("KOMMUNESOEG_USERS_FILE", None)
    log = (tmp_path_factory.getbasetemp() / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("streamlit")),
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (scripts/setup.sh --test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def test_ask_in_a_real_browser_shows_the_decision_card_and_links_the_pdf_page(app_url, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1500}, locale="da-DK")
    page.goto(app_url, wait_until="domcontentloaded")
    box = page.get_by_label("Dit spørgsmål")
    box.wait_for(timeout=120_000)
    box.fill(QUESTION)  # "Hvad blev besluttet om Opgang til Opgang?"
    box.press("Enter")

    # the decision card: outcome, decision text, follow-up, meeting, date, Punkt, PDF link
    card = page.locator(".ks-dec")
    card.wait_for(timeout=120_000)
    heading = card.get_by_role("heading", name=re.compile(r"^Beslutning\b"))
    assert heading.inner_text().split() == ["Beslutning", "Godkendt"]
    text = card.inner_text()
    assert "overgangsfinansiering" in card.locator("blockquote").inner_text()
    assert "Opfølgning: Vibeke Jensen" in text
    assert "MSB Rådmandsmøde · 23. marts 2023" in text
    assert "Punkt 4: Projekt Opgang til Opgang" in text

    link = card.locator("a", has_text="Åbn PDF på side")
    href = link.get_attribute("href")
    match = re.fullmatch(r"app/static/kilder/(2023-03-23_MSB_raadmandsmoede\.pdf)#page=(\d+)", href)
    assert match, href
    cited_page = int(match.group(2))
    assert link.inner_text().startswith(f"Åbn PDF på side {cited_page}")
    # the served file is a PDF whose cited page holds the decision
    with urllib.request.urlopen(f"{app_url}/app/static/kilder/{match.group(1)}") as resp:
        assert resp.headers["Content-Type"] == "application/pdf"
        served = resp.read()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "served.pdf").write_bytes(served)
    page_text = PdfReader(ARTIFACTS / "served.pdf").pages[cited_page - 1].extract_text()
    assert "Opgang" in page_text and "overgangsfinansiering" in page_text

    # the cited passage is the first source card, with the same link
    first_card = page.locator(".ks-title").first
    card_text = first_card.inner_text() + " " + page.locator(".ks-meta").first.inner_text()
    assert "Punkt 4" in card_text
    assert "MSB" in card_text and "23.03.2023" in card_text
    source_links = page.locator(".ks-links a", has_text="Åbn PDF på side")
    assert href in [source_links.nth(i).get_attribute("href") for i in range(source_links.count())]

    page.wait_for_timeout(500)  # let the last cards paint before the picture
    shot = ARTIFACTS / "screenshot-answer.png"
    page.screenshot(path=str(shot))
    SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT)

    # the answer text with its [n] markers is one click away
    page.get_by_text("Svaret som tekst med kildehenvisninger").click()
    answer = page.locator(".ks-answer")
    answer.wait_for(timeout=10_000)
    assert "overgangsfinansiering" in answer.inner_text().lower()
    _assert_wcag_21_aa(page)  # card, opened answer text and sources
    page.close()


def _assert_wcag_21_aa(page) -> None:
    """axe-core injected into the page with the answer shown: zero WCAG 2.1 AA violations
    (the Danish web accessibility law requires AA of public-sector sites)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing (scripts/setup.sh --test installs axe-core with npm)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG_21_AA,
    )
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
    ]
    assert not found, "\n".join(found)
