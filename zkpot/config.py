"""zkpot's settings, read from the environment in one place.

Every variable is prefixed ``ZKPOT_`` (``ZKPOT_RPC_URL``, ``ZKPOT_REDIS_URL`` …); a
pydantic-settings object reads them (an empty value counts as unset). Secrets (private keys)
are ``SecretStr`` so they never appear in logs or reprs.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from zkpot import PROJECT_ROOT

ENV_PREFIX = "ZKPOT_"
_GIVEN_ENVIRON: ContextVar[bool] = ContextVar("zkpot_settings_given_environ", default=False)


class Settings(BaseSettings):
    """All runtime configuration. Field ``foo_bar`` is read from ``ZKPOT_FOO_BAR``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid")

    # where runtime state lives: storage, circuit cache, node keys and secrets, logs
    state_dir: Path = Field(PROJECT_ROOT / ".zkpot", description="runtime state folder")
    # chain
    rpc_url: str = Field("http://127.0.0.1:18545", description="EVM JSON-RPC URL")
    chain_id: int | None = Field(None, description="expected chain id (checked when set)")
    deployment_file: Path | None = Field(
        None, description="contract address map (default: <state_dir>/deployment.json)"
    )
    node_key: SecretStr | None = Field(None, description="this node's private key (hex)")
    node_keystore: Path | None = Field(None, description="keystore file for the node key")
    node_keystore_password: SecretStr | None = Field(None, description="keystore password")
    employer_key: SecretStr | None = Field(None, description="dev-mode signing key for the API")
    # services
    redis_url: str = Field("redis://127.0.0.1:16379/0", description="Celery broker/backend")
    api_host: str = Field("127.0.0.1", description="API bind address")
    api_port: int = Field(18000, description="API port")
    # Sign-In with Ethereum: the site a wallet's message names (never the request's Host)
    siwe_domain: str | None = Field(
        None, description="EIP-4361 domain (host[:port]) of the dashboard (default "
                          "<api_host>:<api_port>)")
    siwe_uri: str | None = Field(
        None, description="EIP-4361 URI and the only browser origin allowed to send signed-in "
                          "writes (default http://<siwe_domain>)")
    session_ttl_s: int = Field(12 * 3600, ge=60, le=30 * 86400,
                               description="lifetime of a sign-in session (kept in Redis)")
    # storage: content-addressed, local folder by default, or a Kubo node's RPC
    storage_backend: Literal["local", "kubo"] = Field("local", description="storage backend")
    storage_dir: Path | None = Field(None, description="local store (default <state_dir>/store)")
    kubo_rpc_url: str = Field("http://127.0.0.1:5001", description="Kubo RPC URL")
    # zk
    circuit_dir: Path | None = Field(None, description="circuit cache (default <state_dir>/circuits)")
    srs_path: Path | None = Field(
        None, description="ceremony SRS file; unset: a local single-party SRS (dev only)"
    )
    max_logrows: int = Field(
        19, ge=8, le=26, description="largest accuracy circuit (2^max_logrows rows) set up here "
                                     "(proving memory grows with rows: 1.4 GB at 2^17, so roughly "
                                     "6 GB at 2^19); bigger ones are refused with the shard size "
                                     "that would fit"
    )
    prove_grace_s: int = Field(
        600, description="seconds of chain time after TestSetPublished before a node that is "
                         "not a shard's designated prover proves it (if still unproven)"
    )
    # node operations (zkpot node run)
    log_format: Literal["text", "json"] = Field("text", description="worker log lines: readable "
                                                                   "text or one JSON object a line")
    node_report_url: str | None = Field(
        None, pattern=r"^((?i:off|none)?|https?://[^\s/?#]+(/[^\s?#]*)?)$", description="the gateway a node tells which steps it gave up, so the dashboard "
                          "shows them (default http://<api_host>:<api_port>; 'off': none)")
    node_stop_grace_s: float = Field(
        30.0, ge=1, le=3600, description="seconds `zkpot node run` gives its workers on SIGTERM/"
                                         "SIGINT to finish the task in flight before killing them")
    node_metrics_host: str = Field("127.0.0.1", description="address of the node's health and "
                                                            "metrics endpoint")
    node_metrics_port: int = Field(18090, ge=0, le=65535,
                                   description="port of /healthz and /metrics (0: none)")
    # limits
    max_upload_bytes: int = Field(20 * 1024 * 1024, description="largest dataset upload")
    max_dataset_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="largest dataset once decompressed: the NPZ "
                                                "arrays' declared size, or the CSV's parsed values")
    max_stages: int = Field(1024, ge=1, le=65535, description="most stages (and chunk files) of one job")
    max_job_bytes: int = Field(256 * 1024 * 1024, ge=1024,
                               description="most bytes of stage chunks one job stores")
    max_pending_jobs: int = Field(3, ge=1, description="most jobs a server prepares for one wallet that are "
                                                       "not on chain yet")
    max_pending_bytes: int = Field(2 * 1024**3, ge=1024, description="most bytes a server holds for prepared "
                                                                     "jobs that are not on chain yet")
    prepared_ttl_s: int = Field(900, ge=60, description="seconds a prepared job waits for its createJob "
                                                         "before what it stored is removed")

    def path(self, name: str) -> Path:
        """A folder under the state dir, created on first use."""
        p = self.state_dir / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    @property
    def store_dir(self) -> Path:
        return self.storage_dir or self.path("store")

    @property
    def circuits_dir(self) -> Path:
        return self.circuit_dir or self.path("circuits")

    @property
    def report_url(self) -> str | None:
        """Where a node sends its given-up reports, or None (``node_report_url`` 'off')."""
        if self.node_report_url is None:
            host = f"[{self.api_host}]" if ":" in self.api_host else self.api_host   # IPv6
            return f"http://{host}:{self.api_port}"
        url = self.node_report_url.strip().rstrip("/")
        return None if url.lower() in ("", "off", "none") else url

    @property
    def sign_in_domain(self) -> str:
        """The EIP-4361 domain wallets sign for."""
        return self.siwe_domain or f"{self.api_host}:{self.api_port}"

    @property
    def sign_in_uri(self) -> str:
        """The EIP-4361 URI, also the dashboard's origin."""
        return (self.siwe_uri or f"http://{self.sign_in_domain}").rstrip("/")

    @property
    def deployment_path(self) -> Path:
        return self.deployment_file or self.state_dir / "deployment.json"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings from the process's ``ZKPOT_*`` variables, or from ``environ`` alone when
        given (the process's are then ignored: tests and embedded runs pass their own);
        keyword overrides win."""
        if environ is None:
            return cls(**overrides)
        values = {name: environ[ENV_PREFIX + name.upper()] for name in cls.model_fields
                  if environ.get(ENV_PREFIX + name.upper(), "") != ""}
        token = _GIVEN_ENVIRON.set(True)
        try:
            return cls(**{**values, **overrides})
        finally:
            _GIVEN_ENVIRON.reset(token)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        # keyword arguments, then ZKPOT_* variables; from_env(environ=…) passes its mapping's
        # values as keywords and reads nothing else
        return (init_settings,) if _GIVEN_ENVIRON.get() else (init_settings, env_settings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (read once)."""
    return Settings.from_env()
