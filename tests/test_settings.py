"""Scaling out is settings alone: PostgreSQL, Redis and S3 are chosen by env variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.core.files.storage import storages
from huey.contrib.djhuey import HUEY
print(json.dumps({
    "db": settings.DATABASES["default"]["ENGINE"],
    "huey": type(HUEY).__name__,
    "storage": type(storages["default"]).__name__,
}))
"""


def probe(tmp_path: Path, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME"}}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, "DJANGO_SETTINGS_MODULE": "nanobanana_site.settings", "DATA_DIR": str(tmp_path), **env},
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_defaults_are_embedded(tmp_path):
    assert probe(tmp_path) == {
        "db": "django.db.backends.sqlite3",
        "huey": "SqliteHuey",
        "storage": "FileSystemStorage",
    }
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_postgres_redis_and_s3_by_environment(tmp_path):
    assert probe(
        tmp_path,
        DATABASE_URL="postgres://someone@db.internal:5432/studio",
        REDIS_URL="redis://127.0.0.1:6379/3",
        AWS_STORAGE_BUCKET_NAME="studio-images",
        AWS_S3_REGION_NAME="eu-west-1",
    ) == {"db": "django.db.backends.postgresql", "huey": "RedisHuey", "storage": "S3Storage"}


def test_an_idle_worker_picks_up_a_new_job_within_a_second():
    # `make run` starts `run_huey --workers 4 --worker-type thread`: every other consumer
    # option comes from settings.HUEY["consumer"], else huey's defaults, whose idle
    # polling backs off to 10 s, so the first job after a quiet spell sat in SqliteHuey
    # for up to 10 s before a worker looked.
    from django.conf import settings
    from huey.consumer_options import ConsumerConfig

    config = ConsumerConfig(**{**settings.HUEY["consumer"], "workers": 4, "worker_type": "thread"})
    assert config.max_delay <= 1.0


def test_worker_log_lines_are_printed_once():
    """run_huey gives the "huey" logger a handler of its own when it has none; with the
    root handler as well, every worker line was printed twice."""
    import logging

    import django

    django.setup()
    logger = logging.getLogger("huey")
    assert logger.handlers
    assert not logger.propagate
