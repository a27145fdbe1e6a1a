"""NATS_URL names one server or a cluster's several; the relay's stream is shaped by
GRONDSLAG_NATS_REPLICAS and GRONDSLAG_NATS_STORAGE — each read once, a bad value refused
at start, naming the setting and never a password."""

from __future__ import annotations

import pytest

from grondslag.ledger.nats_urls import hidden, shared_credentials
from grondslag.ledger.settings import Settings


def test_a_comma_separated_nats_url_is_the_list_of_a_clusters_servers() -> None:
    settings = Settings.from_env(
        {"NATS_URL": " nats://n1:4222, nats://grondslag:geheim@n2:4222 ,tls://n3:4222,"}
    )
    assert settings.nats_servers == [
        "nats://n1:4222",
        "nats://grondslag:geheim@n2:4222",
        "tls://n3:4222",
    ]
    assert Settings.from_env({"NATS_URL": "nats://127.0.0.1:4222"}).nats_servers == [
        "nats://127.0.0.1:4222"
    ]
    assert Settings.from_env({}).nats_servers == []  # the embedded one, started later


@pytest.mark.parametrize(
    "url",
    [
        "localhost:4222",  # no scheme
        "nats://n1:4222,n2:4222",  # the second without one
        "nats://grondslag:geheim@n1:42x2",  # no port
        "nats://n1:99999",
        "http://n1:4222",
        "nats://",
        "nats://n1:4222/path",
        " , ",
        "nats://n1:4222,ws://n2:8080",  # websocket and TCP mixed
    ],
)
def test_a_nats_url_that_does_not_parse_is_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(ValueError, match=r"^NATS_URL: ") as refused:
        Settings.from_env({"NATS_URL": url})
    assert "geheim" not in str(refused.value)


def test_credentials_stay_in_the_urls_and_are_offered_to_every_server_when_one_set() -> None:
    one = ["nats://grondslag:geheim@n1:4222", "nats://n2:4222"]
    assert shared_credentials(one) == {"user": "grondslag", "password": "geheim"}
    assert shared_credentials(["nats://s3cr3t@n1:4222", "nats://s3cr3t@n2:4222"]) == {
        "token": "s3cr3t"
    }
    assert shared_credentials(["nats://n1:4222"]) == {}
    assert shared_credentials(["nats://a:x@n1:4222", "nats://b:y@n2:4222"]) == {}  # each its own
    assert hidden(", ".join([*one, "nats://s3cr3t@n3:4222"])) == (
        "nats://grondslag:***@n1:4222, nats://n2:4222, nats://***@n3:4222"
    )


def test_the_stream_has_one_replica_on_file_unless_told_otherwise() -> None:
    default = Settings.from_env({})
    assert (default.nats_replicas, default.nats_storage) == (1, "file")
    chosen = Settings.from_env({"GRONDSLAG_NATS_REPLICAS": "3", "GRONDSLAG_NATS_STORAGE": "Memory"})
    assert (chosen.nats_replicas, chosen.nats_storage) == (3, "memory")


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("GRONDSLAG_NATS_REPLICAS", "0", "from 1 to 5"),
        ("GRONDSLAG_NATS_REPLICAS", "6", "from 1 to 5"),  # JetStream keeps at most 5
        ("GRONDSLAG_NATS_REPLICAS", "three", "from 1 to 5"),
        ("GRONDSLAG_NATS_REPLICAS", "-1", "from 1 to 5"),
        ("GRONDSLAG_NATS_STORAGE", "disk", "not file or memory"),
    ],
)
def test_a_stream_setting_out_of_range_is_refused(setting: str, value: str, says: str) -> None:
    """(``console.settings_from_env`` puts the setting's name before the line.)"""
    with pytest.raises(ValueError, match=says):
        Settings.from_env({setting: value})


def test_the_banner_and_the_log_show_a_clusters_servers_without_their_passwords() -> None:
    from grondslag.cli import _redact
    from grondslag.console import banner

    urls = "nats://grondslag:geheim@n1:4222, nats://grondslag:geheim@n2:4222,nats://s3cr3t@n3:4222"
    settings = Settings(database_url="postgresql://postgres:pw@db:5432/g", nats_url=urls)
    shown = banner(settings, "http://x", embedded_postgres=False, embedded_nats=False)
    logged = _redact(urls)
    for text in (shown, logged):
        assert "geheim" not in text and "s3cr3t" not in text
        assert "n1:4222" in text and "n2:4222" in text and "n3:4222" in text
