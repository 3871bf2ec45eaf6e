"""vidgen.api: the HTTP API for third-party developers (FastAPI), with signed webhooks."""
