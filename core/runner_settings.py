"""The one list of settings a runner needs, and how they reach it as environment variables. The
operator puts them in each Job (the secrets come from the runner Secret instead), local mode in
each runner subprocess (secrets included): one list, so a setting never reaches one and not the
other."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from .settings import Settings

#: Secret settings: a Job takes them from the runner Secret, a local runner from the settings.
RUNNER_SECRETS = ("s3_access_key_id", "s3_secret_access_key", "kie_api_key", "openai_api_key")

#: Every setting the runner reads (secrets included).
RUNNER_SETTINGS = (
    "storage_url",
    "s3_endpoint_url",
    "s3_access_key_id",
    "s3_secret_access_key",
    "s3_region",
    "kie_api_key",
    "kie_base_url",
    "kie_upload_url",
    "kie_upload_path",
    "kie_poll_interval_seconds",
    "kie_poll_max_interval_seconds",
    "kie_poll_retries",
    "kie_retry_wait_seconds",
    "kie_request_timeout_seconds",
    "kie_deadline_seconds",
    "kie_rate_limit_patience_seconds",
    "kie_rate_limit_first_wait_seconds",
    "kie_callback_base_url",
    "provider_rate_window_seconds",
    "default_model",
    "openai_api_key",
    "openai_base_url",
    "openai_model",
    "openai_timeout_seconds",
    "enhanced_prompt_max_chars",
    "max_photo_bytes",
    "max_prompt_chars",
    "max_video_bytes",
    "sandbox_latency_seconds",
    "sandbox_short_side",
    "sandbox_fps",
    "sandbox_max_seconds",
    "sandbox_failures",
    "log_format",
    "log_level",
)


def env_value(value: object) -> str:
    """A setting's value as pydantic-settings reads it back from the environment."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if any(isinstance(v, BaseModel) for v in value):
            return "[" + ",".join(v.model_dump_json() for v in value) + "]"
        return ",".join(str(v) for v in value)
    return str(value)


def runner_variables(settings: Settings, *, secrets: bool, **overrides: object) -> dict[str, str]:
    """`VIDGEN_<NAME>` → value for every runner setting that is set (secrets only if `secrets`);
    `overrides` replace a setting's value (e.g. the storage URL as the runner will see it)."""
    out: dict[str, str] = {}
    for name in RUNNER_SETTINGS:
        if name in RUNNER_SECRETS and not secrets:
            continue
        value = overrides[name] if name in overrides else getattr(settings, name)
        if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
            continue
        out[f"VIDGEN_{name.upper()}"] = env_value(value)
    return out
