"""Settings from the environment, read in this module only, into one typed object.

Every other module receives a `Settings` (or reads `get_settings()`); nothing else
touches `os.environ` for configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _resource_dir(name: str) -> Path:
    """Find `rules/` or `templates/`: inside an installed wheel, else beside the package."""
    bundled = _PACKAGE_DIR / "_bundled" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE_DIR.parent / name


DEFAULT_DATABASE_FILE = "bid.db"
DEFAULT_DATA_DIR = ".bid"
DEFAULT_OUTPUT_DIR = "bid-output"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_UI_PORT = 4200
ADMIN_TOKEN_FILE = "admin.token"
LOG_FORMATS = ("plain", "json")


@dataclass(frozen=True)
class Limits:
    """What one input may hold at most: checked before the work, each refusal one line naming
    the limit (docs/security.md, "Limits"). A number past these is not a bid but an accident or
    an attack, and costs the service minutes and gigabytes before it fails anyway."""

    sites_per_bid: int = 20_000
    """Sites of one bid, the file's and those already imported together."""
    upload_bytes: int = 20_000_000
    """Bytes of one CSV a user hands in (sites, quotes, accounts, an answer library)."""
    yaml_bytes: int = 1_000_000
    """Bytes of one opportunity YAML."""
    workbook_bytes: int = 50_000_000
    """Bytes of one uploaded questionnaire (.xlsx or .csv), as stored."""
    workbook_unzipped_bytes: int = 100_000_000
    """Bytes of an .xlsx once unzipped (every part together): past it, a zip bomb."""
    sheet_rows: int = 20_050
    """Rows of one sheet (a questionnaire's 20,000 requirements and a title block)."""
    merged_ranges: int = 10_000
    """Merged ranges of one sheet."""
    merged_cells: int = 1_000_000
    """Cells covered by the merged ranges of one sheet, together (a whole-sheet merge is 17
    billion)."""
    amount: float = 1e12
    """Amounts (revenue, budgets, prices, costs): finite, from 0 to this."""
    years_ahead: int = 10
    """Dates (deadlines, quote validity, install dates, contract ends) at most this far ahead."""
    free_text_bytes: int = 4_096
    """Bytes (UTF-8) of a free text a person types: a reason, a title, a note."""


LIMITS = Limits()
"""The limits every door applies (one object, so a test or a bench reads the same numbers)."""


def _config_home(env: Mapping[str, str] | None = None) -> Path:
    """XDG_CONFIG_HOME, else ~/.config."""
    values = os.environ if env is None else env
    configured = values.get("XDG_CONFIG_HOME")
    return Path(configured) if configured else Path.home() / ".config"


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the embedded defaults of a first run."""

    database_url: str
    data_dir: Path
    output_dir: Path
    """Where documents are written on this machine (a staging folder when `output_url`)."""
    rules_dir: Path
    templates_dir: Path
    slack_bot_token: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    slack_signing_secret: str | None = None
    prefect_api_url: str | None = None
    ui_port: int = DEFAULT_UI_PORT
    flow_runner: str = "prefect"
    prefect_home_env: str | None = None
    """PREFECT_HOME as the user set it; wins over the project's own Prefect home."""
    flow_dispatch: str = "auto"
    """How a human answer starts the next run: auto | local | deployment (see docs/flows.md)."""
    prefect_log_level: str = "WARNING"
    output_url: str | None = None
    """BID_OUTPUT_DIR given as an fsspec URL (s3://bucket/bid, memory://bid, ...): documents are
    published there, under a content-addressed key and their human names."""
    autostart: bool = True
    """Start `bid server` in the background when a command needs Prefect and none runs."""
    server_idle_timeout_s: float = 3600.0
    """An autostarted service stops after this long without a command."""
    prefect_ui_url: str | None = None
    """Where people open the Prefect UI (links in Slack); default: the local service's URL."""
    documents_factory: str | None = None
    """`module:function(settings) -> DocumentPort` for the flow runs a worker starts (tests)."""
    token: str | None = None
    """BID_TOKEN: the caller's access token (scripts, CI); wins over `bid login`'s."""
    credentials_file: Path = field(default_factory=lambda: _config_home() / "bid" / "credentials")
    """Where `bid login` keeps this OS user's tokens, one per database (mode 600)."""
    admin_email: str | None = None
    """BID_ADMIN_EMAIL: the e-mail of the folder's admin, created on first use."""
    log_format: str = "plain"
    """BID_LOG_FORMAT: plain | json (one JSON object a line, with the bid id; orchestrator.logs)."""
    workspace_url: str | None = None
    """BID_WORKSPACE_URL: where people open the web workspace (Slack links a bid's page there);
    `bid server` sets it for its processes."""
    oidc_issuer: str | None = None
    """BID_OIDC_ISSUER: an OpenID Connect provider the workspace signs people in with."""
    oidc_client_id: str | None = None
    """BID_OIDC_CLIENT_ID: the workspace's client id at that provider."""
    oidc_client_secret: str | None = None
    """BID_OIDC_CLIENT_SECRET: the workspace's client secret at that provider."""
    pdf_timeout_s: float = 300.0
    """BID_PDF_TIMEOUT: seconds one LibreOffice run converting a bid's documents may take."""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def admin_token_file(self) -> Path:
        """The folder's own admin token (mode 600), written when the database gets its admin."""
        return self.data_dir / ADMIN_TOKEN_FILE

    @property
    def prefect_home(self) -> Path:
        """Prefect's own data lives inside the project's data directory (unless PREFECT_HOME)."""
        if self.prefect_home_env:
            return Path(self.prefect_home_env)
        return self.data_dir / "prefect"

    @property
    def cache_dir(self) -> Path:
        """Derived data kept between runs (the answer matcher's index of the library)."""
        return self.data_dir / "cache"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Build settings from an environment mapping (default: the process environment)."""
    env = os.environ if environ is None else environ
    base = cwd or Path.cwd()
    data_dir = Path(env.get("BID_DATA_DIR", str(base / DEFAULT_DATA_DIR)))
    database_url = env.get("BID_DATABASE_URL") or f"sqlite:///{base / DEFAULT_DATABASE_FILE}"
    output = env.get("BID_OUTPUT_DIR", "")
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        output_dir=(
            data_dir / "staging"
            if _is_url(output)
            else Path(output or str(base / DEFAULT_OUTPUT_DIR))
        ),
        output_url=output if _is_url(output) else None,
        rules_dir=Path(env.get("BID_RULES_DIR", str(_resource_dir("rules")))),
        templates_dir=Path(env.get("BID_TEMPLATES_DIR", str(_resource_dir("templates")))),
        slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
        slack_api_url=env.get("SLACK_API_URL", DEFAULT_SLACK_API_URL),
        slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
        prefect_api_url=env.get("PREFECT_API_URL") or None,
        ui_port=int(env.get("BID_UI_PORT", str(DEFAULT_UI_PORT))),
        flow_runner=env.get("BID_FLOW_RUNNER", "prefect"),
        prefect_home_env=env.get("PREFECT_HOME") or None,
        flow_dispatch=env.get("BID_FLOW_DISPATCH", "auto"),
        prefect_log_level=env.get("BID_PREFECT_LOG_LEVEL", "WARNING").upper(),
        documents_factory=env.get("BID_DOCUMENTS_FACTORY") or None,
        autostart=env.get("BID_AUTOSTART", "1") != "0",
        server_idle_timeout_s=_seconds(env.get("BID_SERVER_IDLE_TIMEOUT", "3600")),
        prefect_ui_url=env.get("PREFECT_UI_URL") or None,
        workspace_url=(env.get("BID_WORKSPACE_URL") or "").rstrip("/") or None,
        oidc_issuer=(env.get("BID_OIDC_ISSUER") or "").rstrip("/") or None,
        oidc_client_id=env.get("BID_OIDC_CLIENT_ID") or None,
        oidc_client_secret=env.get("BID_OIDC_CLIENT_SECRET") or None,
        token=env.get("BID_TOKEN") or None,
        credentials_file=Path(
            env.get("BID_CREDENTIALS_FILE") or _config_home(env) / "bid" / "credentials"
        ),
        admin_email=env.get("BID_ADMIN_EMAIL") or None,
        log_format=env.get("BID_LOG_FORMAT", "plain").strip().lower() or "plain",
        pdf_timeout_s=_seconds(env.get("BID_PDF_TIMEOUT", "300"), default=300.0),
    )


def _is_url(location: str) -> bool:
    """An fsspec URL (`scheme://...`), as opposed to a path on this machine."""
    scheme, sep, _ = location.partition("://")
    return bool(sep) and scheme.isalnum() and len(scheme) > 1


def _seconds(raw: str, default: float = 3600.0) -> float:
    """A positive number of seconds from the environment; `default` when unreadable."""
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value > 0 else default


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
