"""Settings from the environment (``IVR_*``), read once by the composition root."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service; the defaults run it embedded (SQLite, in-process state)."""

    model_config = SettingsConfigDict(env_prefix="IVR_", extra="ignore")

    # "production" (the default) or "development": only in development does the service
    # publish FastAPI's interactive documentation (/docs, /redoc, /openapi.json).
    environment: Literal["production", "development"] = "production"
    config_path: Path = Path("config/departments.yaml")
    host: str = "127.0.0.1"
    port: int = 8115
    instance_id: str | None = None  # None: hostname and process id
    data_dir: Path = Path("var")

    # Records and live state
    database_url: str | None = None  # None: SQLite at <data_dir>/ivr.sqlite3
    redis_url: str | None = None  # None: in-process live state
    # Every key and channel of the service in Redis starts with this (several deployments,
    # or test runs, can share one Redis database).
    redis_prefix: str = "ivr:"

    # Asterisk ARI (connects when ari_url is set)
    ari_url: str | None = None  # e.g. http://127.0.0.1:8088
    ari_user: str = "ivr"
    ari_password: SecretStr = SecretStr("")
    ari_app: str = "ivr"
    ari_dial_template: str = "PJSIP/{number}@operator"

    # LaML webhooks (Twilio / SignalWire compatible)
    laml_auth_token: SecretStr | None = None
    public_base_url: str | None = None  # e.g. https://ivr.example.org (behind a TLS proxy)
    laml_account_sid: str | None = None
    laml_api_base_url: str = "https://api.twilio.com/2010-04-01"
    laml_api_token: SecretStr | None = None  # SignalWire: API token when not the signing key
    laml_prompts_base_url: str | None = None  # <Play> hosted prompt files instead of <Say>
    laml_hold_music_url: str | None = None
    laml_voice: str | None = None  # the provider's French voice for <Say>

    # Geolocation (AML over HTTPS)
    aml_hmac_key: SecretStr | None = None

    # SI SIAO
    sisiao_base_url: str | None = None  # None: no SI SIAO link (lookups say unavailable)
    sisiao_client_id: str = ""
    sisiao_client_secret: SecretStr = SecretStr("")

    # Alerts to the Dihal on-call when SI SIAO's vital functions fail persistently
    alert_webhook_url: str | None = None
    alert_smtp_host: str | None = None
    alert_smtp_port: int = 25
    alert_email_from: str = "ivr-115@localhost"
    alert_email_to: list[str] = []

    # Web consoles
    session_secret: SecretStr | None = None  # None: a random secret kept in <data_dir>
    secure_cookies: bool = True  # False only for plain-HTTP development on another host
    # /metrics (Prometheus): scraped with this bearer token, or from a loopback address only
    metrics_token: SecretStr | None = None

    # Retention in days (IVR_RETENTION_RECORDINGS_DAYS, which ``ivr purge`` reads too): the
    # consoles play no recording older than this, even before the purge has run.
    retention_recordings_days: int = 90
