"""The web pages: static HTML, vanilla JS and CSS served by the FastAPI app (issue 6)."""
