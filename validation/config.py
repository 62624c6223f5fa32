"""Settings of the platform: environment variables, an optional ``clinval.toml`` in the home, validated.

Precedence, highest first: environment variables, ``$CLINVAL_HOME/clinval.toml``, built-in defaults. The home
itself comes only from the environment (``CLINVAL_HOME``, default ``./.clinval``), since the file lives in it.

=========================  ===========================  ==========================================
environment variable       ``clinval.toml`` key         default
=========================  ===========================  ==========================================
``CLINVAL_HOME``           (none)                       ``./.clinval``
``CLINVAL_DB_URL``         ``db_url``                   ``sqlite:///$CLINVAL_HOME/platform.db``
``MLFLOW_TRACKING_URI``    ``mlflow_tracking_uri``      ``sqlite:///$CLINVAL_HOME/mlflow.db``
``CLINVAL_SANDBOX``        ``sandbox``                  ``auto`` (``bwrap``, ``process``, ``none`` or ``auto``)
``CLINVAL_ALLOW_UNSANDBOXED`` ``allow_unsandboxed``     ``false`` (``none`` may run vendor code only if true)
``CLINVAL_SCHEDULER``      ``scheduler``                none: local worker processes
``CLINVAL_MIN_CELL``       ``min_cell``                 ``10`` (smallest group shown to vendors and regulators)
=========================  ===========================  ==========================================
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from validation.exceptions import ConfigError

__all__ = ["Settings", "load_settings", "SANDBOX_MODES"]

SANDBOX_MODES = ("auto", "bwrap", "process", "none")
_FILE_KEYS = {"db_url", "mlflow_tracking_uri", "sandbox", "scheduler", "min_cell", "allow_unsandboxed"}
_ENV_KEYS = {
    "db_url": "CLINVAL_DB_URL",
    "mlflow_tracking_uri": "MLFLOW_TRACKING_URI",
    "sandbox": "CLINVAL_SANDBOX",
    "scheduler": "CLINVAL_SCHEDULER",
    "min_cell": "CLINVAL_MIN_CELL",
    "allow_unsandboxed": "CLINVAL_ALLOW_UNSANDBOXED",
}
_DB_SCHEMES = ("sqlite", "postgresql+psycopg2")
_SCHEDULER = re.compile(r"^tcp://[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Effective settings, valid once built.

    Attributes
    ----------
    home : Path
        The platform home, absolute.
    db_url : str
        SQLAlchemy URL of the platform database (SQLite or ``postgresql+psycopg2://``).
    mlflow_tracking_uri : str
        MLflow tracking URI; always set explicitly for MLflow.
    sandbox : str
        ``bwrap`` (refuse to run vendor code without bubblewrap), ``process`` (a separate process with rlimits and
        a network namespace only; loud, recorded in every run), ``none`` (trusted code only: refused for vendor
        submissions unless ``allow_unsandboxed``) or ``auto`` (bubblewrap when installed, otherwise ``process``).
    allow_unsandboxed : bool
        Let ``sandbox = "none"`` run vendor models (an admin's explicit choice, for trusted code only).
    scheduler : str or None
        ``tcp://host:port`` of a Dask scheduler, or None for local worker processes.
    min_cell : int
        Aggregates over fewer cases than this are suppressed for vendors and regulators.
    sources : Mapping[str, str]
        Where each value came from: ``default``, ``file`` or ``env``.
    """

    home: Path
    db_url: str
    mlflow_tracking_uri: str
    sandbox: str = "auto"
    scheduler: str | None = None
    min_cell: int = 10
    allow_unsandboxed: bool = False
    sources: Mapping[str, str]

    def __post_init__(self) -> None:
        if not self.home.is_absolute():
            raise ConfigError(f"home must be an absolute path, got {str(self.home)!r}")
        scheme = self.db_url.split("://", 1)[0] if "://" in self.db_url else ""
        if scheme not in _DB_SCHEMES:
            hint = (
                "use postgresql+psycopg2://user:password@host/db (psycopg2 is the installed driver)"
                if scheme.startswith("postgres")
                else "use sqlite:///PATH or postgresql+psycopg2://user:password@host/db"
            )
            raise ConfigError(f"CLINVAL_DB_URL has unsupported scheme {scheme or self.db_url!r}", hint=hint)
        if "://" not in self.mlflow_tracking_uri:
            raise ConfigError(
                f"MLflow tracking URI {self.mlflow_tracking_uri!r} has no scheme",
                hint="use sqlite:///PATH, postgresql://... or http(s)://host:port",
            )
        if self.sandbox not in SANDBOX_MODES:
            raise ConfigError(
                f"CLINVAL_SANDBOX must be one of {', '.join(SANDBOX_MODES)}, got {self.sandbox!r}",
                hint="bwrap is the safe choice; install it with 'apt-get install bubblewrap'",
            )
        if self.scheduler is not None and not _SCHEDULER.match(self.scheduler):
            raise ConfigError(
                f"CLINVAL_SCHEDULER must look like tcp://host:8786, got {self.scheduler!r}",
                hint="unset it to run on local worker processes",
            )
        if not isinstance(self.min_cell, int) or isinstance(self.min_cell, bool) or self.min_cell < 1:
            raise ConfigError(f"min_cell must be a whole number >= 1, got {self.min_cell!r}")

    @property
    def keys_dir(self) -> Path:
        """Folder of the secrets (mode 0700, files 0600)."""
        return self.home / "keys"

    @property
    def admin_token_file(self) -> Path:
        """Where ``clinval init`` stores the first admin token."""
        return self.keys_dir / "admin.token"

    def display(self) -> dict[str, str]:
        """Effective values for printing, with secrets (passwords in URLs) masked."""
        out: dict[str, str] = {}
        for f in fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            text = "" if value is None else str(value)
            if f.name in ("db_url", "mlflow_tracking_uri"):
                text = _mask_url(text)
            out[f.name] = text
        return out


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _read_file(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint="fix or remove the file") from None
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        raise ConfigError(
            f"{path} has unknown key(s) {', '.join(unknown)}",
            hint=f"known keys: {', '.join(sorted(_FILE_KEYS))}",
        )
    return data


def load_settings(env: Mapping[str, str] | None = None, *, home: str | os.PathLike | None = None) -> Settings:
    """Read the settings from the environment and ``clinval.toml``.

    Parameters
    ----------
    env : Mapping[str, str], optional
        The environment to read; ``os.environ`` by default.
    home : path-like, optional
        Overrides ``CLINVAL_HOME`` (the CLI's ``--home``).

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        A value is invalid; the message names the variable or key.
    """
    env = os.environ if env is None else env
    home_path = Path(home if home is not None else env.get("CLINVAL_HOME") or ".clinval").expanduser()
    home_path = home_path.absolute()
    file_values = _read_file(home_path / "clinval.toml")
    values: dict[str, object] = {
        "db_url": f"sqlite:///{home_path / 'platform.db'}",
        "mlflow_tracking_uri": f"sqlite:///{home_path / 'mlflow.db'}",
        "sandbox": "auto",
        "scheduler": None,
        "min_cell": 10,
        "allow_unsandboxed": False,
    }
    sources = {key: "default" for key in values}
    for key, value in file_values.items():
        values[key] = value
        sources[key] = "file"
    for key, var in _ENV_KEYS.items():
        raw = env.get(var)
        if raw is not None and raw != "":
            values[key] = raw
            sources[key] = "env"
    if isinstance(values["min_cell"], str):
        try:
            values["min_cell"] = int(values["min_cell"])
        except ValueError:
            raise ConfigError(f"CLINVAL_MIN_CELL must be a whole number, got {values['min_cell']!r}") from None
    flag = values["allow_unsandboxed"]
    if isinstance(flag, str):
        if flag.strip().lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise ConfigError(f"CLINVAL_ALLOW_UNSANDBOXED must be true or false, got {flag!r}")
        values["allow_unsandboxed"] = flag.strip().lower() in ("1", "true", "yes")
    elif not isinstance(flag, bool):
        raise ConfigError(f"allow_unsandboxed must be true or false, got {flag!r}")
    for key in ("db_url", "mlflow_tracking_uri", "sandbox"):
        if not isinstance(values[key], str):
            raise ConfigError(f"{key} must be a string, got {values[key]!r}")
    sources["home"] = "env" if (home is not None or env.get("CLINVAL_HOME")) else "default"
    return Settings(home=home_path, sources=sources, **values)  # type: ignore[arg-type]
