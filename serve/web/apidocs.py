"""The API docs page (Swagger UI) from local files: no CDN, no inline script.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script, so
without internet it is blank and it needs a looser Content-Security-Policy. Here the Swagger
UI 5 files (which read OpenAPI 3.1) come from the `fastapi-offline` package's static folder
(mounted at `ASSETS`; we use only its files), the page is plain HTML, and
`/static/apidocs.js` starts it — the page keeps the strict policy of every other.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS = "/api/v1/docs"
ASSETS = "/api/v1/docs-assets"

PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Grid-risk early warning — API</title>
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
  <link rel="icon" href="{ASSETS}/favicon.png">
</head>
<body>
  <div id="swagger-ui" data-openapi="/api/v1/openapi.json"></div>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="/static/apidocs.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve the docs page at `DOCS` and Swagger UI's files under `ASSETS` (create the app
    with ``docs_url=None``)."""
    import fastapi_offline

    @app.get(DOCS, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(PAGE)

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount(ASSETS, StaticFiles(directory=assets), name="docs-assets")
