"""Settings from the environment (``IVR_*``), read once by the composition root."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service; the defaults run it embedded (SQLite, in-process state)."""

    model_config = SettingsConfigDict(env_prefix="IVR_", extra="ignore")

    config_path: Path = Path("config/departments.yaml")
    host: str = "127.0.0.1"
    port: int = 8115
    database_url: str | None = None  # None: SQLite under var/
    redis_url: str | None = None  # None: in-process live state
    data_dir: Path = Path("var")
