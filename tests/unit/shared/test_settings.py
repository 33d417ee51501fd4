"""Each process reads its own settings class: the platform-wide fields from their own HOTLINE_* names only,
its own fields under its one prefix; the supervisor names the variables from the classes it configures."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.classifier.settings import ClassifierSettings
from services.router.settings import RouterSettings
from shared.settings import ServiceSettings, env_name, settings_env


def test_platform_wide_fields_are_read_from_their_own_names_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("HOTLINE_ROUTER_HOME", "/srv/not-the-home")
    assert ServiceSettings().home == Path(".hotline")
    assert ServiceSettings().log_level == "INFO"
    assert RouterSettings().home == Path(".hotline")
    monkeypatch.setenv("HOTLINE_HOME", "/srv/hotline")
    assert ServiceSettings().home == RouterSettings().home == ClassifierSettings().home == Path("/srv/hotline")


def test_code_may_still_pass_the_platform_wide_fields_by_name() -> None:
    settings = RouterSettings(home=Path("/srv/a"), timezone="America/New_York", batch_size=7)
    assert (settings.home, settings.timezone, settings.batch_size) == (Path("/srv/a"), "America/New_York", 7)


def test_a_process_reads_what_the_supervisor_sets_for_its_class(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        **settings_env(ServiceSettings, home=Path("/srv/hotline")),
        **settings_env(RouterSettings, batch_size=64, batch_window_seconds=0.5),
        **settings_env(ClassifierSettings, model_path=Path("/srv/model")),
    }
    assert env == {
        "HOTLINE_HOME": "/srv/hotline",
        "HOTLINE_ROUTER_BATCH_SIZE": "64",
        "HOTLINE_ROUTER_BATCH_WINDOW_SECONDS": "0.5",
        "HOTLINE_CLASSIFIER_MODEL_PATH": "/srv/model",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    router, classifier = RouterSettings(), ClassifierSettings()
    assert (router.home, router.batch_size, router.batch_window_seconds) == (Path("/srv/hotline"), 64, 0.5)
    assert classifier.model_path == Path("/srv/model")


def test_an_unknown_field_has_no_variable() -> None:
    assert env_name(RouterSettings, "catalogue_path") == "HOTLINE_CATALOGUE_PATH"
    with pytest.raises(KeyError):
        env_name(RouterSettings, "no_such_field")
