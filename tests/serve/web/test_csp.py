"""Every page works under the Content-Security-Policy (serve/security_headers.py): logged in
through the form (login.js), each page loads with no CSP violation in the browser, the model
card's own style applies inside its iframe, and a change made from a page with the session
cookie (logout) passes the Origin check (serve/api/csrf.py).

Unlike the other browser tests, these contexts do not bypass the policy, so waiting polls
``page.evaluate`` from Python (``wait_for_function`` would need ``eval``).
"""

from __future__ import annotations

import os
import time

import pytest

from tests.serve.api_seed import register_two_versions
from tests.serve.web.conftest import login

pytestmark = pytest.mark.browser

# Chromium reports each blocked script, style or fetch as a console error naming the policy.
VIOLATION = "Content Security Policy"


@pytest.fixture(scope="module")
def live_data_dir(tmp_path_factory):
    saved = os.environ.pop("RISK_MLFLOW_URI", None)
    data_dir = tmp_path_factory.mktemp("registry")
    register_two_versions(data_dir)  # the analyst page shows v2's model card
    yield data_dir
    if saved is not None:
        os.environ["RISK_MLFLOW_URI"] = saved


@pytest.fixture
def page(browser):
    """A page under the service's policy (no `BYPASS_CSP`)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    p = context.new_page()
    p.set_default_timeout(10_000)
    try:
        yield p
    finally:
        context.close()


def until(page, expression: str, timeout_s: float = 10) -> None:
    """Wait until ``expression`` is true in the page (evaluated over CDP, not with eval)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def watch(page) -> list[str]:
    """CSP violations and uncaught script errors of ``page`` and its frames, as they come."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if VIOLATION in m.text else None)
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    return problems


@pytest.mark.parametrize(
    ("user", "path", "ready"),
    [
        ("rev", "/reviewer", "Number(document.body.dataset.loaded || 0) >= 1"),
        ("cmd", "/commander", "Number(document.body.dataset.loaded || 0) >= 1"),
        ("cmd", "/grid/g3", "document.body.dataset.loaded === '1'"),
        ("w1", "/worker", "document.querySelector('#topbar #user-info') !== null"),
        ("rev", "/worker", "document.getElementById('forbidden-text').textContent !== ''"),
    ],
    ids=["reviewer", "commander", "grid", "worker", "forbidden"],
)
def test_each_page_loads_without_a_policy_violation(live_server, page, user, path, ready):
    problems = watch(page)
    login(page, live_server.url, user, to=path)
    until(page, ready)
    page.wait_for_load_state("networkidle")
    assert problems == []


def test_the_model_card_keeps_its_style_in_the_analyst_page(live_server, page):
    problems = watch(page)
    login(page, live_server.url, "ana")
    until(page, "document.getElementById('card-frame').srcdoc.includes('Model card')")
    card = page.frame_locator("#card-frame").locator("body")
    card.locator("h1").wait_for(state="attached")  # in a closed <details>
    # the card's inline <style> (allowed by its hash): body { max-width: 70em }
    assert card.evaluate("b => getComputedStyle(b).maxWidth") != "none"
    assert problems == []


def test_logout_from_a_page_passes_the_origin_check(live_server, page):
    problems = watch(page)
    login(page, live_server.url, "cmd", to="/grid/g3")
    page.click("#logout")  # POST /api/v1/auth/logout with the cookie and the page's Origin
    page.wait_for_url(f"{live_server.url}/login")
    page.goto(f"{live_server.url}/commander")
    assert page.url == f"{live_server.url}/login?next=%2Fcommander"  # the session is gone
    assert problems == []


def test_the_api_docs_render_offline_under_the_policy(live_server, page):
    """Swagger UI from local files: with every outside address refused, the docs still list
    the API's operations, with no policy violation."""
    problems = watch(page)
    outside: list[str] = []

    def only_local(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{live_server.url}/api/v1/docs")
    until(page, "document.querySelectorAll('.opblock').length > 20", timeout_s=20)
    assert "Grid-risk early warning" in page.inner_text(".info .title")
    assert outside == [] and problems == []
