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
