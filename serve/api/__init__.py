"""The HTTP API (`/api/v1/…`): one router per audience, one error format (`serve.api.errors`)."""
