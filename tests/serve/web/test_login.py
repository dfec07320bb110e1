"""Logging in and out in the browser, the language switch, and the 403 page."""

from __future__ import annotations

import pytest

from tests.serve.web.conftest import BYPASS_CSP, login, no_horizontal_scroll, shot

pytestmark = pytest.mark.browser


def test_a_wrong_password_says_so_and_stays_on_the_login_page(live_server, page):
    page.goto(f"{live_server.url}/login")
    shot(page, "login_zh")
    page.fill("#username", "cmd")
    page.fill("#password", "wrong")
    page.click("#login-submit")
    error = page.locator("#login-error")
    error.wait_for(state="visible")
    assert error.inner_text() == "用户名或密码错误。"
    assert page.url == f"{live_server.url}/login"


def test_login_goes_to_the_page_asked_for_and_logout_ends_the_session(live_server, page):
    page.goto(f"{live_server.url}/grid/g3")
    assert page.url == f"{live_server.url}/login?next=%2Fgrid%2Fg3"
    page.fill("#username", "cmd")
    page.fill("#password", "correct horse battery")
    page.click("#login-submit")
    page.wait_for_url(f"{live_server.url}/grid/g3")
    assert page.locator("#user-info").inner_text().split() == ["cmd", "指挥员"]
    page.click("#logout")
    page.wait_for_url(f"{live_server.url}/login")
    page.goto(f"{live_server.url}/commander")
    assert page.url == f"{live_server.url}/login?next=%2Fcommander"


def test_each_role_lands_on_its_home_page(live_server, browser):
    homes = {"cmd": "/commander", "rev": "/reviewer", "w1": "/worker", "ana": "/analyst"}
    for user, home in homes.items():
        # a fresh browser each: no page of the last user left
        context = browser.new_context(**BYPASS_CSP)
        try:
            page = login(context.new_page(), live_server.url, user)
            assert page.url == live_server.url + home
            if user == "ana":  # let the model list load before the page goes away
                page.wait_for_function("document.body.dataset.loaded === '1'")
        finally:
            context.close()


def test_the_language_switch_changes_labels_and_is_remembered(live_server, page):
    page.goto(f"{live_server.url}/login")
    assert page.locator("label[for=username]").inner_text() == "用户名"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.click("button[data-lang=en]")
    assert page.locator("label[for=username]").inner_text() == "Username"
    assert page.locator("#login-submit").inner_text() == "Log in"
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("button[data-lang=en]").get_attribute("aria-pressed") == "true"
    page.reload()
    assert page.locator("label[for=username]").inner_text() == "Username"
    shot(page, "login_en")


def test_a_role_without_access_sees_the_forbidden_page(live_server, page):
    login(page, live_server.url, "w1")
    response = page.goto(f"{live_server.url}/analyst")
    assert response.status == 403
    text = page.locator("#forbidden-text")
    text.wait_for(state="visible")
    assert page.locator("#forbidden-heading").inner_text() == "无权访问此页面"
    assert text.inner_text() == "你以“网格员”身份登录，此页面不对该角色开放。"
    shot(page, "forbidden_zh")


def test_the_login_page_fits_a_360_px_screen(live_server, page):
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{live_server.url}/login")
    assert no_horizontal_scroll(page)
    shot(page, "login_360_zh")
