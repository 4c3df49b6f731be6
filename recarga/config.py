"""Configuration, read only from ``RECARGA_*`` environment variables (SPEC §1)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from booking.clock import clock_from
from mqtt import address

_COMPANY = re.compile(r"[a-z][a-z0-9-]{0,31}")  # the contract's CompanyId, whole


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    company: str
    port: int = 8080
    host: str = "0.0.0.0"
    public_url: str = ""
    database_url: str = "sqlite:///recarga.db"
    mqtt_url: str = ""
    peers: tuple[str, ...] = ()
    admin_token: str = ""
    company_name: str = ""
    threads: int = 64
    db_pool: int = 10
    validate_responses: bool = False
    registration_token: str = ""
    prepare_timeout: float = 5.0
    hold_seconds: int = 120
    in_doubt_seconds: float = 86400.0
    recovery_interval: float = 2.0
    catalog_sync: float = 30.0
    replica: str = ""
    test_faults: str = ""
    test_fault_dir: str = ""
    # the world's clock (booking.clock): "" real time; "<POSIX seconds>@<speed>" the demo's
    demo_clock: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env: Mapping[str, str] = os.environ if environ is None else environ
        company = env.get("RECARGA_COMPANY", "").strip()
        if not _COMPANY.fullmatch(company):
            raise ConfigError(
                "RECARGA_COMPANY must be set to a short lowercase id such as 'a' or 'voltnorte'"
            )
        try:
            port = int(env.get("RECARGA_PORT", "8080"))
            threads = int(env.get("RECARGA_THREADS", "64"))
            db_pool = int(env.get("RECARGA_DB_POOL", "10"))
            hold_seconds = int(env.get("RECARGA_HOLD_SECONDS", "120"))
            prepare_timeout = float(env.get("RECARGA_PREPARE_TIMEOUT", "5"))
            in_doubt = float(env.get("RECARGA_IN_DOUBT_SECONDS", "86400"))
            recovery_interval = float(env.get("RECARGA_RECOVERY_INTERVAL", "2"))
            catalog_sync = float(env.get("RECARGA_CATALOG_SYNC_SECONDS", "30"))
        except ValueError as exc:
            raise ConfigError(f"a numeric RECARGA_* variable is not a number: {exc}") from exc
        if not (
            0 < prepare_timeout <= 60
            and 1 <= hold_seconds <= 3600
            and in_doubt > 0
            and 0 < recovery_interval <= 300
        ):
            raise ConfigError(
                "RECARGA_PREPARE_TIMEOUT must be in (0, 60] s, RECARGA_HOLD_SECONDS "
                "in [1, 3600], RECARGA_IN_DOUBT_SECONDS and "
                "RECARGA_RECOVERY_INTERVAL positive"
            )
        if not 0.1 <= catalog_sync <= 3600:
            raise ConfigError("RECARGA_CATALOG_SYNC_SECONDS must be in [0.1, 3600]")
        if not 1 <= db_pool <= 200:
            raise ConfigError("RECARGA_DB_POOL must be in [1, 200] connections")
        mqtt_url = env.get("RECARGA_MQTT_URL", "")
        if mqtt_url:
            try:
                where = address.broker(mqtt_url)
            except ValueError as e:
                raise ConfigError(f"RECARGA_MQTT_URL: {e}") from None
            if where.cafile and not os.path.isfile(where.cafile):
                raise ConfigError(f"RECARGA_MQTT_URL: the CA file {where.cafile} does not exist")
        registration = env.get("RECARGA_REGISTRATION_TOKEN", "")
        if registration and len(registration) < 8:
            raise ConfigError("RECARGA_REGISTRATION_TOKEN must have at least 8 characters")
        admin = env.get("RECARGA_ADMIN_TOKEN", "")
        if len(admin) < 8:
            raise ConfigError("RECARGA_ADMIN_TOKEN must be set (at least 8 characters)")
        demo_clock = env.get("RECARGA_DEMO_CLOCK", "").strip()
        try:
            clock_from(demo_clock)
        except ValueError as exc:
            raise ConfigError(f"RECARGA_DEMO_CLOCK: {exc}") from None
        peers = tuple(
            p.strip() for p in re.split(r"[,\s]+", env.get("RECARGA_PEERS", "")) if p.strip()
        )
        public_url = env.get("RECARGA_PUBLIC_URL", "").rstrip("/") or f"http://127.0.0.1:{port}"
        return cls(
            company=company,
            port=port,
            host=env.get("RECARGA_HOST", "0.0.0.0"),
            public_url=public_url,
            database_url=env.get("RECARGA_DATABASE_URL", "") or f"sqlite:///recarga-{company}.db",
            mqtt_url=env.get("RECARGA_MQTT_URL", ""),
            peers=peers,
            admin_token=admin,
            company_name=env.get("RECARGA_COMPANY_NAME", "") or f"Company {company.upper()}",
            threads=threads,
            db_pool=db_pool,
            validate_responses=_flag(env.get("RECARGA_VALIDATE_RESPONSES", "")),
            registration_token=registration,
            prepare_timeout=prepare_timeout,
            hold_seconds=hold_seconds,
            in_doubt_seconds=in_doubt,
            recovery_interval=recovery_interval,
            catalog_sync=catalog_sync,
            replica=env.get("RECARGA_REPLICA", "") or "1",
            test_faults=env.get("RECARGA_TEST_FAULTS", ""),
            test_fault_dir=env.get("RECARGA_TEST_FAULT_DIR", ""),
            demo_clock=demo_clock,
        )


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")
