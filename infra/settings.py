"""The one settings class. Every knob is an environment variable with the FLUXO_ prefix."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import orjson
from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.topics import TopicSpec

_DEFAULT_ADMIN_PASSWORD = "fluxo-admin"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLUXO_", extra="ignore")

    # "local" provisions Kafka and PostgreSQL on this machine and tolerates
    # development secrets; "production" refuses them.
    mode: Literal["local", "production"] = "local"

    # When set, these point at existing services and nothing is provisioned.
    kafka_bootstrap_servers: str | None = None
    database_url: str | None = None

    state_dir: Path = Field(default_factory=lambda: Path.home() / ".local" / "state" / "fluxo")
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "fluxo")

    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = "-Xms256m -Xmx512m"
    postgres_port: int = 15432

    # Lets tests and side-by-side deployments use their own topics on one cluster.
    topic_prefix: str = ""
    partitions: int = 3
    replication_factor: int = 1

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str | None = None

    jwt_secret: str | None = None
    # AES-256-GCM keys for integration secrets: "kid:base64key,..."; the first
    # (or FLUXO_SECRET_KEY_ID) seals new values, all of them open old ones.
    secret_keys: str | None = None
    secret_key_id: str | None = None
    # Hosts the bootstrapped workspace's HTTP nodes may call although they are
    # loopback/private (SSRF guard). None: loopback in local mode, none in production.
    allowed_hosts: str | None = None
    jwt_access_ttl_seconds: int = 900
    jwt_refresh_ttl_seconds: int = 7 * 24 * 3600
    # Server-side key of the HMAC-SHA256 that API keys and invitation tokens are stored as;
    # like the JWT secret, generated in the state folder in local mode, required in production.
    api_key_secret: str | None = None
    invitation_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)

    # Login lockout, per identifier (email or username, whether or not such a user exists).
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=15 * 60, gt=0)
    login_lockout_seconds: int = Field(default=15 * 60, gt=0)

    # Rate limits ("N/second|minute|hour|day", moving window), per API key, else per user,
    # else per client IP, counted in each API process's memory. Ingest endpoints have their
    # own budget; FLUXO_RATE_LIMIT_ROUTES='{"POST /api/v1/workflows": "10/minute"}' gives a
    # route template (with or without its method) a budget of its own.
    rate_limit_default: str = "100/minute"
    rate_limit_ingest: str = "1000/minute"
    rate_limit_routes: dict[str, str] = Field(default_factory=dict)
    # Browser origins allowed to call the API (comma-separated or a JSON list); none by default.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    admin_email: str = "admin@fluxo.local"
    admin_password: str = _DEFAULT_ADMIN_PASSWORD
    admin_workspace: str = "Default workspace"

    # Lists of executions, event logs and action logs count matching rows exactly up to
    # this many; past it `count` is this number and `count_capped` is true (an exact
    # count of a million rows cost ~200 ms on every page).
    list_count_cap: int = Field(default=10_000, ge=1)
    # How long a write waits for its projection before answering anyway.
    read_your_writes_timeout_seconds: float = 10.0
    # How long a state-changing call waits for Kafka to store its audit record;
    # past it the caller gets 503 rather than an unaudited answer (api/audit.py).
    audit_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # The API authenticates from memory (api/directory_feed.py): a revoked key, a removed
    # member, a lowered role or a regenerated webhook token stops working within this.
    # A directory older than this (broker slow or gone) is not trusted: PostgreSQL answers.
    directory_bound_seconds: float = Field(default=1.0, gt=0, le=60)
    # POST /triggers/process_events: at most this many events per call.
    ingest_batch_max: int = Field(default=500, ge=1, le=10_000)
    node_timeout_seconds: float = 30.0
    # POST /integrations/{id}/test answers within this, whatever the other side does.
    integration_check_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    worker_concurrency: int = 64
    # Sandbox processes per node worker for custom code (JavaScript, Python).
    code_pool_size: int = 2
    max_event_bytes: int = 256 * 1024
    # A webhook's timestamped HMAC signature (t=<unix seconds>,v1=<hex>) is refused when its
    # timestamp is further than this from the server's clock, either way: a captured call
    # cannot be replayed later.
    webhook_signature_tolerance_seconds: float = Field(default=300.0, gt=0, le=86400)
    # Any API request body, and any record the API writes (Kafka's default limit is 1 MiB).
    max_request_bytes: int = 512 * 1024
    max_record_bytes: int = 1_000_000
    projection_batch_size: int = 2000
    # How long the broker may hold a fetch that has no new data. Kafka's default (500 ms)
    # became a floor under every hop of an execution (measured by `fluxo bench`: event to
    # completion 1.7 s p50 at 100 executions/s with 500 ms, 0.5-0.7 s with 50 ms); lower
    # values cost broker CPU in idle polling (10 ms doubled it and cut throughput).
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=1, le=500)
    # A processor's transaction (its outputs plus its input offsets) that has not finished
    # after this long is taken for a lost connection: the runner starts over with new clients,
    # whose producer fences the old one. Seen once after a broker restart: the old producer's
    # sender retried OutOfOrderSequenceNumber forever and the transaction never returned.
    kafka_transaction_deadline_seconds: float = Field(default=45.0, gt=0, le=600)
    # Finished executions leave a marker in the executor's state so late duplicates (a
    # re-sent execution.started with the same id) are refused; markers older than the
    # horizon, or beyond the cap per executor instance (oldest first), are dropped, and a
    # duplicate arriving after that would run again. Bounds the executor's memory at
    # min(rate x horizon, max) markers of ~300 bytes (processors/executor.py).
    executor_finished_horizon_seconds: float = Field(default=300.0, gt=0)
    executor_finished_max: int = Field(default=100_000, ge=1)
    # How often the timer service looks for due timers and cron fires.
    timer_tick_seconds: float = 0.1
    # Cron fires missed while the scheduler was down are caught up within this window.
    cron_catchup_seconds: int = 3600

    # Seconds added to this process's clock (schemas.envelope.now); local mode only,
    # for tests and demos that need executions on other days.
    clock_offset_seconds: float = 0.0
    # Execution detail (executions, their steps, event logs) older than this many
    # days is pruned from PostgreSQL; counters and the Kafka history stay. 0 keeps all.
    execution_retention_days: int = Field(default=90, ge=0)
    retention_interval_seconds: float = Field(default=3600.0, gt=0)

    log_level: str = "INFO"
    # uvicorn worker processes for the API (each with its own pool and producer).
    api_workers: int = Field(default=1, ge=1, le=32)

    _local_secrets: dict[str, tuple[Path, str]] = PrivateAttr(default_factory=dict)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return orjson.loads(text)
            return [o.strip().rstrip("/") for o in text.split(",") if o.strip()]
        return value

    @field_validator("rate_limit_default", "rate_limit_ingest")
    @classmethod
    def _rate(cls, value: str) -> str:
        return check_rate(value)

    @field_validator("rate_limit_routes")
    @classmethod
    def _route_rates(cls, value: dict[str, str]) -> dict[str, str]:
        return {route.strip(): check_rate(rate) for route, rate in value.items()}

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.mode == "production":
            if not self.jwt_secret or len(self.jwt_secret) < 32:
                raise ValueError("FLUXO_JWT_SECRET must be set (32+ chars) in production mode")
            if not self.api_key_secret or len(self.api_key_secret) < 32:
                raise ValueError("FLUXO_API_KEY_SECRET must be set (32+ chars) in production mode")
            if not self.secret_keys:
                raise ValueError("FLUXO_SECRET_KEYS must be set in production mode")
            if self.admin_password == _DEFAULT_ADMIN_PASSWORD:
                raise ValueError("FLUXO_ADMIN_PASSWORD must not be the default in production mode")
            if self.clock_offset_seconds:
                raise ValueError("FLUXO_CLOCK_OFFSET_SECONDS is for local mode only")
            if not self.kafka_bootstrap_servers or not self.database_url:
                raise ValueError(
                    "production mode needs FLUXO_KAFKA_BOOTSTRAP_SERVERS and FLUXO_DATABASE_URL"
                )
        return self

    # -- derived values -------------------------------------------------
    @property
    def provisions_kafka(self) -> bool:
        return self.kafka_bootstrap_servers is None

    @property
    def provisions_postgres(self) -> bool:
        return self.database_url is None

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    @property
    def dsn(self) -> str:
        return self.database_url or f"postgresql://postgres@127.0.0.1:{self.postgres_port}/fluxo"

    @property
    def api_url(self) -> str:
        return self.public_base_url or f"http://{self.api_host}:{self.api_port}"

    def topic(self, spec: TopicSpec) -> str:
        return f"{self.topic_prefix}{spec.name}"

    def group(self, name: str) -> str:
        """Consumer groups and transactional ids share the topic prefix so test runs never meet."""
        return f"{self.topic_prefix}fluxo.{name}"

    def resolved_jwt_secret(self) -> str:
        return self.jwt_secret or self._local_secret("jwt_secret")

    def resolved_api_key_secret(self) -> str:
        return self.api_key_secret or self._local_secret("api_key_secret")

    def _local_secret(self, name: str) -> str:
        # Read once per process (every authenticated request asks for it), keyed by
        # the file so a copy of these settings with another state dir reads its own.
        path = self.state_dir / name
        cached = self._local_secrets.get(name)
        if cached is None or cached[0] != path:
            cached = self._local_secrets[name] = (path, self._read_local_secret(path))
        return cached[1]

    @staticmethod
    def _read_local_secret(path: Path) -> str:
        # Local mode: one generated secret kept in the state folder, so tokens and
        # keys survive restarts without anyone choosing a weak default.
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


    def secret_box(self) -> SecretBox:
        from infra.crypto import SecretBox, local_keys, parse_keys

        text = self.secret_keys or local_keys(self.state_dir / "secret_keys")
        keys = parse_keys(text)
        current = self.secret_key_id or next(iter(keys))
        return SecretBox(keys, current)

    def bootstrap_allowed_hosts(self) -> tuple[str, ...]:
        if self.allowed_hosts is None:
            return ("127.0.0.1", "localhost", "::1") if self.mode == "local" else ()
        return tuple(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())


def check_rate(value: str) -> str:
    """A rate such as "100/minute" (the `limits` notation); refused at start, not at the first request."""
    from limits import parse

    try:
        parse(value)
    except ValueError:
        raise ValueError(f"not a rate limit: {value!r} (expected e.g. '100/minute')") from None
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


if TYPE_CHECKING:
    from infra.crypto import SecretBox
