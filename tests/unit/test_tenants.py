"""A tenant's name is one token of its NATS subjects (``grondslag.<tenant>.…``): a dot would
put one tenant's messages under another's subjects (``grondslag.a.>`` matches tenant
``a.b``), a space or a line break would make them unsendable. Every way a tenant is named
holds to one pattern (``grondslag.ledger.tenants``)."""

from __future__ import annotations

import asyncio
import re

import pytest

from grondslag import console
from grondslag.ledger.keys import create_key
from grondslag.ledger.settings import Settings
from grondslag.ledger.tenants import is_tenant

NAMES = ["demo", "praktijk-de-linde", "t-0a1b", "a" * 63, "0"]
NOT_NAMES = ["a.b", "Demo", "-x", "demo\n", "", "a" * 64, "de linde", "a*", "a>", "dé"]


@pytest.mark.parametrize("name", NAMES)
def test_a_tenants_name_is_lower_case_letters_digits_and_hyphens(name: str) -> None:
    assert is_tenant(name)


@pytest.mark.parametrize("name", NOT_NAMES)
def test_anything_else_is_no_tenants_name(name: str) -> None:
    assert not is_tenant(name)


@pytest.mark.parametrize("variable", ["GRONDSLAG_BOOTSTRAP_TENANT", "GRONDSLAG_OPERATOR_TENANT"])
@pytest.mark.parametrize("name", ["a.b", "demo\n", "Praktijk De Linde"])
def test_the_environment_names_no_tenant_outside_the_pattern(variable: str, name: str) -> None:
    with pytest.raises(ValueError, match="is no tenant name"):
        Settings.from_env({variable: name})


def test_the_command_line_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRONDSLAG_BOOTSTRAP_TENANT", "praktijk.de-linde")
    with pytest.raises(
        console.Failure, match=re.escape("GRONDSLAG_BOOTSTRAP_TENANT: 'praktijk.de-linde'")
    ):
        console.settings_from_env()


def test_no_key_is_created_for_a_name_outside_the_pattern() -> None:
    """Refused before the database is asked (there is none here)."""
    with pytest.raises(ValueError, match="is no tenant name"):
        asyncio.run(create_key(None, "a.b", ["reader"], pepper=b"p" * 32))  # type: ignore[arg-type]
