"""Metabase as code: the questions (questions/*.json, native SQL over the analytics views), the
dashboard (dashboard.json) and the provisioning through Metabase's REST API."""
