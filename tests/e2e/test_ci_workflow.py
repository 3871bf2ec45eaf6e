"""The GitHub workflow runs the README's test command (everything but the e2e) with PostgreSQL
and promtool, and the kind e2e on a runner with Docker, where a skip would be a failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "ci.yml"


def steps(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("uses", "")) for step in job["steps"])


def test_ci_runs_the_suite_and_the_kind_e2e() -> None:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    tests, e2e = jobs["tests"], jobs["e2e"]
    assert 'scripts/test -m "not e2e"' in steps(tests)
    assert "promtool --version" in steps(tests)
    assert set(tests["services"]) == {"postgres", "redis"}
    assert e2e["env"]["VIDGEN_E2E_REQUIRED"] == "1"
    assert "pytest tests/e2e -m e2e" in steps(e2e)
    assert "helm/kind-action" in steps(e2e) and "azure/setup-helm" in steps(e2e)
    for job in (tests, e2e):
        assert job["runs-on"].startswith("ubuntu-")  # GitHub-hosted, Docker available
        assert job["timeout-minutes"] <= 60
