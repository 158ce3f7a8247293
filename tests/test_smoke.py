from django.conf import settings


def test_settings_from_conftest():
    assert "nanobanana-test-" in str(settings.DATA_DIR)
    assert settings.TASKS["default"]["BACKEND"].endswith("DummyBackend")
