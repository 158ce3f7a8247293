"""Nano Banana Studio settings: one module, driven by environment variables.

Every variable is listed in the README. Defaults give a working offline install:
SQLite, a SQLite-backed huey queue, files under ./var, the `demo` provider.
"""

import json
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DATA_DIR = Path(env("DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    # A stable per-install key kept beside the data, so sessions survive restarts
    # without asking a first-time user to configure anything.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        from django.utils.crypto import get_random_string

        key_file.write_text(get_random_string(64))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "huey.contrib.djhuey",
    "generator",
    "spend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "nanobanana_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "nanobanana_site.wsgi.application"

DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so the web process and the
                # worker queue behind each other instead of failing with "database is
                # locked" half-way through a transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": ("PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000;"),
            },
        }
    }
if env("TEST_DATABASE_NAME"):
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env("TEST_DATABASE_NAME")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "generator:compose"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from static/ and app folders: no collectstatic step on a fresh install.
WHITENOISE_USE_FINDERS = True

MEDIA_ROOT = Path(env("MEDIA_ROOT", str(DATA_DIR / "media")))
# Media is never served publicly: views check who may see each file.
MEDIA_URL = "/files/"

if env("AWS_STORAGE_BUCKET_NAME"):
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env("AWS_S3_REGION_NAME") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": True,
        },
    }
else:
    DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("STATIC_MANIFEST", False)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Background work: django.tasks on huey. The queue is a doorbell only; the
# Generation row holds the truth (see generator/dispatch.py).
REDIS_URL = env("REDIS_URL")
HUEY_IMMEDIATE = env_bool("HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": env("HUEY_NAME", "nanobanana"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "utc": True,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": env("HUEY_NAME", "nanobanana"),
        "filename": env("HUEY_SQLITE_PATH", str(DATA_DIR / "huey.sqlite3")),
        "immediate": HUEY_IMMEDIATE,
        "utc": True,
    }
HUEY["consumer"] = {
    "workers": env_int("WORKER_THREADS", 4),
    "worker_type": "thread",
    "periodic": True,
    "check_worker_health": True,
    # An idle SqliteHuey consumer polls; huey's default backs off to 10 s between
    # polls, which a user feels as a 10 s pause before the first job after a quiet
    # spell starts. Polling at most every second costs nothing. (RedisHuey blocks.)
    "initial_delay": 0.1,
    "max_delay": float(env("WORKER_MAX_POLL_SECONDS", "1.0")),
}

TASKS = {
    "default": {
        "BACKEND": env("TASKS_BACKEND", "huey.contrib.djhuey.tasks_backend.HueyBackend"),
    }
}

# Providers. Keys are read from the environment at call time and never stored.
# See generator/providers/registry.py for PROVIDERS_JSON (extra relays).
GEMINI_API_KEY_ENV = "GEMINI_API_KEY"
GEMINI_BASE_URL = env("GEMINI_BASE_URL", "https://generativelanguage.googleapis.com")
OPENAI_IMAGES_BASE_URL = env("OPENAI_IMAGES_BASE_URL")
OPENAI_CHAT_BASE_URL = env("OPENAI_CHAT_BASE_URL")
PROVIDERS_JSON = env("PROVIDERS_JSON")
DEMO_PROVIDER_ENABLED = env_bool("DEMO_PROVIDER", True)
DEMO_LATENCY_SECONDS = float(env("DEMO_LATENCY_SECONDS", "0.6"))

# Dispatch.
GENERATION_LEASE_SECONDS = env_int("GENERATION_LEASE_SECONDS", 600)
GENERATION_MAX_ATTEMPTS = env_int("GENERATION_MAX_ATTEMPTS", 5)
# The sweeper re-rings queued jobs that have been due this long (a lost doorbell).
SWEEP_STALE_SECONDS = env_int("SWEEP_STALE_SECONDS", 30)
PROVIDER_TIMEOUT_SECONDS = float(env("PROVIDER_TIMEOUT_SECONDS", "300"))

# Limits shared by all workers (generator/limits.py): per provider from its RPM and
# CONCURRENCY variables; per model from MODEL_LIMITS_JSON, e.g.
# {"gemini:gemini-3-pro-image-preview": {"rpm": 20, "concurrency": 4}}.
MODEL_LIMITS = json.loads(env("MODEL_LIMITS_JSON") or "{}")
LIMITS_BACKEND = env("LIMITS_BACKEND", "redis" if REDIS_URL else "database")
LIMITS_REDIS_PREFIX = env("LIMITS_REDIS_PREFIX", "nb:limits:")
LIMIT_BURST = env_int("LIMIT_BURST", 1)
LIMIT_MAX_SLEEP_SECONDS = float(env("LIMIT_MAX_SLEEP_SECONDS", "1.0"))
LIMIT_WAIT_SECONDS = float(env("LIMIT_WAIT_SECONDS", "1.0"))
LIMIT_SLOT_WAIT_SECONDS = float(env("LIMIT_SLOT_WAIT_SECONDS", "2.0"))
# Circuit breakers (generator/breakers.py): open after this many failures in a row.
BREAKER_FAILURES = env_int("BREAKER_FAILURES", 8)
# A key refused with 401/403 is set aside (generator/keys.py) and tried again after
# this long; 0 keeps it aside until an admin re-enables it.
KEY_SET_ASIDE_SECONDS = env_int("KEY_SET_ASIDE_SECONDS", 3600)
BREAKER_COOLDOWN_SECONDS = float(env("BREAKER_COOLDOWN_SECONDS", "30"))
# Fallback chains (generator/fallbacks.py): model id -> ["provider:model", ...], e.g.
# {"gemini-3-pro-image-preview": ["gemini:gemini-3.1-flash-image-preview", "relay:gemini-3-pro-image-preview"]}.
FALLBACKS = json.loads(env("FALLBACKS_JSON") or "{}")
BATCH_MAX_ROWS = env_int("BATCH_MAX_ROWS", 1000)
# Gallery: soft-deleted generations keep their files this long (manage.py purge_deleted).
GALLERY_PURGE_AFTER_DAYS = float(env("GALLERY_PURGE_AFTER_DAYS", "7"))

# Limits on user input (also enforced by the CLI).
PROMPT_MAX_CHARS = 8000
REFERENCE_MAX_BYTES = 20 * 1024 * 1024
REFERENCE_MAX_PIXELS = 50_000_000
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # run_huey adds its own handler to a "huey" logger that has none, and the root
        # handler then printed every worker line twice.
        "huey": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO"), "propagate": False},
    },
}
