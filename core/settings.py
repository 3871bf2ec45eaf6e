"""One settings class for every process (VIDGEN_ prefix, .env supported), read once at start-up
and passed down. Nothing else in vidgen reads the environment."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line that names it."""


class StarsPackage(BaseModel):
    """A credit package sold for Telegram Stars."""

    id: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    credits: int = Field(gt=0)
    stars: int = Field(gt=0)


DEFAULT_PACKAGES = [
    StarsPackage(id="p5", credits=5, stars=100),
    StarsPackage(id="p12", credits=12, stars=200),
    StarsPackage(id="p30", credits=30, stars=450),
]


def _split_ids(value: Any) -> Any:
    if isinstance(value, str):
        return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
    if isinstance(value, int):
        return [value]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VIDGEN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- database and storage -------------------------------------------------------------
    database_url: str = "sqlite+aiosqlite:///./vidgen.db"
    storage_url: str = "file://./data"
    s3_endpoint_url: str | None = None
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str = "us-east-1"

    # --- money ----------------------------------------------------------------------------
    free_credits: int = Field(2, ge=0)
    referral_bonus: int = Field(
        1, ge=0, description="credits for both when an invited user makes a first video"
    )
    referral_daily_cap: int = Field(5, ge=0, description="referral bonuses one inviter can earn per UTC day")
    referral_total_cap: int = Field(50, ge=0, description="referral bonuses one inviter can earn in all")
    credits_per_video: int = Field(1, gt=0)
    stars_packages: list[StarsPackage] = Field(default_factory=lambda: list(DEFAULT_PACKAGES))
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    # --- admission and retries ------------------------------------------------------------
    # The provider's limits, per account (API key): KIE.AI allows 20 task creations per 10 s
    # and about 100 tasks generating at once. Admission keeps every account at both.
    provider_accounts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["default"],
        description="provider accounts, comma-separated; each but `default` has its key in the"
        " runner Secret as VIDGEN_KIE_API_KEY_<NAME>",
    )
    kie_account_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="local mode: the KIE.AI key of each account but `default`, as JSON {name: key}",
    )
    provider_rate_limit: int = Field(20, ge=1, description="task creations allowed per window, per account")
    provider_rate_window_seconds: float = Field(10.0, gt=0)
    provider_max_running: int = Field(
        100, ge=1, description="the provider's concurrency ceiling: tasks generating at once, per account"
    )
    max_concurrency: int | None = Field(
        None, ge=1, description="a cap on attempts running at once; default: the accounts' ceilings summed"
    )
    per_user_concurrency: int = Field(2, ge=1)
    admission_interval_seconds: float = Field(5.0, gt=0, description="wait after a failed admission pass")
    max_attempts: int = Field(3, ge=1, description="attempts for TEMPORARY/UNKNOWN failures")
    rate_limit_max_attempts: int = Field(6, ge=1)
    retry_base_delay_seconds: float = Field(20.0, ge=0)
    retry_max_delay_seconds: float = Field(600.0, ge=0)
    delivery_attempts: int = Field(3, ge=1)
    progress_min_interval_seconds: float = Field(3.0, ge=0)

    # --- Telegram ---------------------------------------------------------------------------
    telegram_token: SecretStr | None = None
    telegram_api_url: str | None = Field(None, description="Bot API server base URL (tests, local server)")
    bot_mode: str = Field("polling", pattern="^(polling|webhook)$")
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080
    redis_url: str | None = None
    throttle_seconds: float = Field(0.5, ge=0)
    max_photo_bytes: int = Field(10 * 1024 * 1024, gt=0)
    max_prompt_chars: int = Field(1000, gt=0)
    default_language: str = "en"
    webhook_path: str = Field("/webhook", pattern="^/")
    history_limit: int = Field(10, ge=1, le=50, description="generations shown by My videos")
    outbox_sweep_interval_seconds: float = Field(30.0, gt=0, description="how often the bot re-launches")
    retention_days: int = Field(
        30, gt=0, description="photos, videos and prompts of finished generations are deleted after this"
    )
    retention_sweep_interval_seconds: float = Field(
        600.0, gt=0, description="how often the bot deletes content past the retention period"
    )
    outbox_grace_seconds: float = Field(
        30.0, ge=0, description="outbox rows younger than this are left alone"
    )
    outbox_max_attempts: int = Field(5, ge=1, description="failed launches before the credit is refunded")
    kubeconfig: str | None = Field(None, description="kubeconfig path outside a cluster (else in-cluster)")

    # --- providers ------------------------------------------------------------------------
    kie_api_key: SecretStr | None = None
    kie_base_url: str = "https://api.kie.ai"
    kie_upload_url: str = "https://kieai.redpandaai.co"
    kie_poll_interval_seconds: float = Field(5.0, gt=0)
    kie_deadline_seconds: float = Field(900.0, gt=0)
    default_model: str = "sora-2-image-to-video"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_seconds: float = Field(20.0, gt=0)
    max_video_bytes: int = Field(200 * 1024 * 1024, gt=0)
    sandbox_latency_seconds: float = Field(0.0, ge=0)

    # --- runner (the Job's program) --------------------------------------------------------
    termination_log_path: str = Field("/dev/termination-log", description="where the result line goes")
    kie_request_timeout_seconds: float = Field(30.0, gt=0, description="one HTTP call to KIE.AI")
    kie_poll_max_interval_seconds: float = Field(30.0, gt=0, description="polling backoff cap")
    kie_poll_retries: int = Field(4, ge=1, description="tries per poll/download on network blips")
    kie_retry_wait_seconds: float = Field(1.0, ge=0, description="first wait between those tries")
    kie_upload_path: str = "vidgen"
    kie_rate_limit_patience_seconds: float | None = Field(
        None,
        ge=0,
        description="total wait for a createTask refused with 429 before the attempt ends as RATE_LIMIT"
        " (default: provider_rate_window_seconds + 2)",
    )
    kie_rate_limit_first_wait_seconds: float = Field(
        1.0, ge=0, description="first wait after a 429 refusal (jittered, doubling)"
    )
    kie_webhook_key: SecretStr | None = Field(
        None, description="KIE.AI's webhook HMAC key: callbacks must be signed with it (unset: not checked)"
    )
    kie_callback_base_url: str | None = Field(
        None,
        description="public base URL of the operator's callback endpoint (unset: no callBackUrl, polling only);"
        " a task's callBackUrl is <base>/kie/callback/<generation>",
    )
    kie_callback_max_age_seconds: float = Field(
        300.0, gt=0, description="signed callbacks older (or newer) than this are refused as stale"
    )
    kie_callback_port: int = Field(8082, description="the operator's callback endpoint listens here")
    kie_status_rate_per_second: int = Field(
        10, ge=1, description="status requests per second per API key (KIE.AI allows about 10)"
    )
    enhanced_prompt_max_chars: int = Field(1500, gt=0, description="bound on OpenAI's prompt")
    sandbox_short_side: int = Field(360, ge=16, le=2160, description="sandbox video: shorter side, px")
    sandbox_fps: int = Field(24, ge=1, le=60)
    sandbox_max_seconds: float = Field(10.0, gt=0, description="sandbox clips are at most this long")
    sandbox_failures: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="scripted sandbox failures, comma-separated ATTEMPT:CODE[:MESSAGE] (ATTEMPT or *)",
    )

    # --- Kubernetes -----------------------------------------------------------------------
    namespace: str = "vidgen"
    runner_image: str = "ghcr.io/vidgen/runner:0.1.0"
    runner_service_account: str = "vidgen-runner"
    runner_secret_name: str = "vidgen-runner"
    runner_cpu_request: str = "100m"
    runner_memory_request: str = "256Mi"
    runner_memory_limit: str = "1Gi"
    runner_host_network: bool = Field(
        False, description="runner Jobs on the node's network (clusters without a pod network)"
    )
    job_active_deadline_seconds: int = Field(1200, gt=0)
    job_ttl_seconds: int = Field(3600, ge=0)
    storage_pvc: str | None = None
    runner_storage_mount_path: str = Field("/data", description="where the runner mounts storage_pvc")

    # --- operator -------------------------------------------------------------------------
    kube_api_url: str | None = Field(
        None, description="Kubernetes API URL (tests, out-of-cluster); else kubeconfig, else in-cluster"
    )
    admission_anchor: str = Field(
        "vidgen-admission", description="ConfigMap whose kopf daemon runs the admission loop"
    )
    peering_name: str = Field("vidgen", description="KopfPeering object the operator's replicas share")
    peering_priority: int | None = Field(
        None, description="this replica's kopf priority (highest acts); default: its start time in ms"
    )
    health_port: int = Field(8081, description="kopf liveness endpoint (/healthz)")
    resync_interval_seconds: float = Field(30.0, gt=0, description="re-check of running/unsettled objects")
    delivery_retry_delay_seconds: float = Field(2.0, ge=0, description="wait between delivery tries")
    delivery_max_wait_seconds: float = Field(60.0, ge=0, description="cap on Telegram's retry_after")

    # --- local mode (`vidgen local`, `vidgen generate`) ---------------------------------------
    local_runs_dir: str = Field(
        "./vidgen-runs", description="per-attempt runner files: result line, pid, output log"
    )
    local_process_poll_seconds: float = Field(
        0.5, gt=0, description="how often a runner left by an earlier run is checked"
    )
    local_stop_grace_seconds: float = Field(
        10.0, ge=0, description="on stop, how long runners get after SIGTERM before SIGKILL"
    )
    local_max_resumes: int = Field(
        3, ge=0, description="restarts of an attempt whose runner vanished (no result) before it fails"
    )

    # --- HTTP API (`vidgen api`; `vidgen local` serves it when api_port is set) ----------------
    api_host: str = Field("0.0.0.0", description="where the HTTP API listens")
    api_port: int | None = Field(None, ge=1, le=65535, description="the HTTP API's port (local mode)")
    api_public_url: str | None = Field(None, description="the API's public base URL, for signed links")
    api_link_secret: SecretStr | None = Field(
        None, description="HMAC key for the API's signed video links (one per installation)"
    )
    api_link_ttl_seconds: int = Field(900, gt=0, le=7 * 24 * 3600, description="lifetime of a video link")
    api_rate_limit: int = Field(60, ge=1, description="requests per key per window")
    api_rate_window_seconds: float = Field(60.0, gt=0)
    api_allow_private_webhooks: bool = Field(
        False, description="allow webhook and photo URLs to private addresses (loopback: local mode only)"
    )
    api_max_page_size: int = Field(100, ge=1, le=1000)
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="one webhook POST")
    webhook_poll_seconds: float = Field(2.0, gt=0, description="how often the webhook dispatcher looks")
    webhook_retry_delays_seconds: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="waits before each retry of a webhook (comma-separated); then it is given up",
    )
    webhook_failed_grace_seconds: float = Field(
        60.0, ge=0, description="a failed generation's webhook waits this long for its refund"
    )

    # --- analytics (Metabase, for `vidgen analytics provision`) -------------------------------
    metabase_url: str | None = Field(None, description="Metabase base URL, e.g. http://metabase:3000")
    metabase_user: str | None = Field(None, description="Metabase login (an admin's e-mail)")
    metabase_password: SecretStr | None = None
    metabase_database: str = Field("vidgen", description="the vidgen database's name in Metabase")

    # --- observability ---------------------------------------------------------------------
    metrics_port: int = 9090
    log_format: str = Field("console", pattern="^(console|json)$")
    log_level: str = "INFO"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: Any) -> Any:
        return _split_ids(value)

    @field_validator("provider_accounts", mode="before")
    @classmethod
    def _provider_accounts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            bad = [a for a in value if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}", str(a))]
            if bad or not value or len(set(value)) != len(value):
                raise ValueError("provider accounts: distinct lowercase names (a-z, 0-9, -), at least one")
        return value

    @field_validator("webhook_retry_delays_seconds", mode="before")
    @classmethod
    def _retry_delays(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [float(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("sandbox_failures", mode="before")
    @classmethod
    def _sandbox_failures(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def require(self, *names: str) -> None:
        """Fail with one line naming the first missing setting among `names`."""
        for name in names:
            value = getattr(self, name)
            if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
                raise ConfigError(f"missing setting VIDGEN_{name.upper()}")

    def secret(self, name: str) -> str | None:
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    @property
    def running_cap(self) -> int:
        """The cap on attempts running at once: max_concurrency, else every account's ceiling."""
        if self.max_concurrency is not None:
            return self.max_concurrency
        return self.provider_max_running * len(self.provider_accounts)

    @property
    def rate_limit_patience_seconds(self) -> float:
        """How long one attempt waits out 429 refusals of task creation (about one window)."""
        if self.kie_rate_limit_patience_seconds is not None:
            return self.kie_rate_limit_patience_seconds
        return self.provider_rate_window_seconds + 2.0

    def kie_callback_url(self, generation: str) -> str | None:
        """The callBackUrl for one generation's task (None when no base URL is configured)."""
        if not self.kie_callback_base_url:
            return None
        return f"{self.kie_callback_base_url.rstrip('/')}/kie/callback/{generation}"

    def package(self, package_id: str) -> StarsPackage | None:
        return next((p for p in self.stars_packages if p.id == package_id), None)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once; an invalid value becomes a ConfigError with one line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "?"
        raise ConfigError(f"invalid setting VIDGEN_{field.upper()}: {first['msg']}") from None
