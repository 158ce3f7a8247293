"""Test environment: a throwaway data folder, no real provider, no real queue.

Loaded as a plugin (`-p tests.testenv` in pyproject.toml) so the variables are set
before pytest-django makes Django read its settings.
"""

import os
import tempfile

_data = tempfile.mkdtemp(prefix="nanobanana-test-")
os.environ.setdefault("DATA_DIR", _data)
os.environ.setdefault("TASKS_BACKEND", "django.tasks.backends.dummy.DummyBackend")
os.environ.setdefault("DEMO_LATENCY_SECONDS", "0")
os.environ["HUEY_IMMEDIATE"] = "1"
for _name in ("GEMINI_API_KEY", "OPENAI_IMAGES_BASE_URL", "OPENAI_CHAT_BASE_URL", "PROVIDERS_JSON"):
    os.environ.pop(_name, None)
if not os.environ.get("DATABASE_URL"):
    # A file, not :memory:, so threads in concurrency tests get real SQLite locking
    # (WAL + IMMEDIATE transactions), as in production.
    os.environ.setdefault("TEST_DATABASE_NAME", os.path.join(_data, "test.sqlite3"))
