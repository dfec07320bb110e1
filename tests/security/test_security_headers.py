"""Issue 14, item 16 (headers): CSP without inline script, frame denial, nosniff, a referrer
policy on every response, and HSTS only when the request came over TLS.

The probe found none of them. The pages' scripts all live in ``/static`` (templates checked
here); tests/serve/web/test_csp.py opens every page in chromium under the policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from risk.settings import Settings
from serve.app import create_app
from serve.db import upgrade
from serve.security_headers import POLICY
from serve.web.pages import TEMPLATES
from tests.security.conftest import self_signed
from tests.serve.api_seed import NOW, PASSWORD, seed
from tests.serve.web.conftest import served

PATHS = [
    ("/login", 200),  # a page
    ("/static/common.js", 200),  # a static file
    ("/api/v1/health", 200),  # the API
    ("/api/v1/review/items", 401),  # an error answer
    ("/no/such/path", 404),
]


def directives(policy: str) -> dict[str, list[str]]:
    parts = (p.split() for p in policy.split(";") if p.strip())
    return {name: values for name, *values in parts}


@pytest.mark.parametrize(("path", "status"), PATHS)
def test_every_answer_carries_the_security_headers(live, path, status):
    r = httpx.get(live.url + path, timeout=30)
    assert r.status_code == status
    assert r.headers["content-security-policy"] == POLICY
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in r.headers  # plain HTTP: never pin the host


def test_the_policy_allows_no_inline_script_and_no_framing():
    policy = directives(POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert not any("unsafe" in v for vs in policy.values() for v in vs)


def test_the_api_docs_page_is_local_and_as_strict_as_every_page(live):
    r = httpx.get(live.url + "/api/v1/docs", timeout=30)
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == POLICY
    assert "http" not in r.text.replace("http-equiv", "")  # no outside address at all
    for asset in ("/api/v1/docs-assets/swagger-ui-bundle.js", "/static/apidocs.js"):
        assert f'src="{asset}"' in r.text
        assert httpx.get(live.url + asset, timeout=30).status_code == 200
    assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_page_has_inline_script_handlers_or_styles(template):
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text) == []
    assert re.findall(r"\son[a-z]+\s*=", text) == []
    assert re.findall(r"\sstyle\s*=", text) == []
    assert "javascript:" not in text


# --------------------------------------------------------------------------- over TLS


@pytest.fixture(scope="module")
def tls_url(tmp_path_factory) -> Iterator[str]:
    """The seeded app served over TLS (SQLite: headers do not depend on the database)."""
    folder = tmp_path_factory.mktemp("tls")
    url = f"sqlite:///{folder / 'tls.db'}"
    upgrade(url)
    seed(url, passwords=True)
    certfile, keyfile = self_signed(folder)
    settings = Settings(data_dir=folder, database_url=url, scheduler=False)
    app = create_app(settings, clock=lambda: NOW)
    tls = {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}
    with served(app, "security-tls", **tls) as port:
        yield f"https://127.0.0.1:{port}"


def test_hsts_is_sent_over_tls(tls_url):
    with httpx.Client(verify=False, timeout=30) as c:
        page = c.get(tls_url + "/login")
        login = c.post(
            tls_url + "/api/v1/auth/login", json={"username": "rev", "password": PASSWORD}
        )
    assert page.headers["strict-transport-security"] == "max-age=31536000"
    assert page.headers["content-security-policy"] == POLICY
    assert login.headers["strict-transport-security"] == "max-age=31536000"
    assert "; secure" in login.headers["set-cookie"].lower()
