"""One list of runner settings feeds both the Job and the local runner process."""

from __future__ import annotations

from pathlib import Path

from vidgen.core.runner_settings import RUNNER_SECRETS, RUNNER_SETTINGS
from vidgen.core.settings import Settings
from vidgen.local.executor import runner_environment
from vidgen.operator.job_manifest import runner_env


def test_the_job_and_the_local_runner_get_the_same_settings_but_the_secrets(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        kie_api_key="k",
        openai_api_key="o",
        kie_poll_retries=7,
        max_photo_bytes=1234,
        sandbox_failures="rate_limit",
        storage_url="file:///data",
    )
    job = {e["name"]: e["value"] for e in runner_env(settings)}
    local = runner_environment(settings, inherited={}, cwd=tmp_path)
    secrets = {f"VIDGEN_{n.upper()}" for n in RUNNER_SECRETS}
    # the settings that once reached a local runner and never a Job
    for name, value in (("VIDGEN_KIE_POLL_RETRIES", "7"), ("VIDGEN_MAX_PHOTO_BYTES", "1234")):
        assert job[name] == local[name] == value
    assert job["VIDGEN_SANDBOX_FAILURES"] == local["VIDGEN_SANDBOX_FAILURES"] == "rate_limit"
    assert not secrets & set(job)  # a Job takes its keys from the runner Secret
    assert {"VIDGEN_KIE_API_KEY", "VIDGEN_OPENAI_API_KEY"} <= set(local)
    shared = {f"VIDGEN_{n.upper()}" for n in RUNNER_SETTINGS} - secrets - {"VIDGEN_LOG_FORMAT"}
    assert {k for k in job if k.startswith("VIDGEN_") and k != "VIDGEN_LOG_FORMAT"} == {
        k for k in local if k in shared
    }
