"""The service: API, persistence, review queue, auth, audit and web pages (issues #5, #6)."""
