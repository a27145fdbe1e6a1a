"""The README's list of problem types is the service's: every kind of
``urn:grondslag:problem:<kind>`` the code can answer is listed there, and the list names
no kind the code never answers (a client branches on these)."""

from __future__ import annotations

import re
from pathlib import Path

from grondslag.ledger.api import problems

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "services").rglob("*.py"))
NAMED = re.compile(r'problem_type\("([a-z-]+)"\)')  # a kind named where it is answered
DOMAIN = re.compile(r'status, kind, title = \d+, "([a-z-]+)"')  # on_domain_error's table
KIND = re.compile(r"`([a-z]+(?:-[a-z]+)*)`")
MEMBERS = {"type", "field", "rule"}  # the Problem's members, named beside the kinds


def _kinds_in_code() -> set[str]:
    kinds = {f"invalid-{source}" for source in problems._SOURCES}
    for path in SOURCES:
        text = path.read_text()
        kinds |= set(NAMED.findall(text)) | set(DOMAIN.findall(text))
    return kinds


def _kinds_in_readme() -> set[str]:
    text = (ROOT / "README.md").read_text()
    bullet = text.split("* **Problem types**", 1)[1].split("\n* **", 1)[0]
    return set(KIND.findall(bullet)) - MEMBERS


def test_the_code_answers_the_kinds_this_test_expects_to_find() -> None:
    kinds = _kinds_in_code()
    # the scan finds the three ways a kind is named: literally, in the domain's table, by source
    assert {"write-in-doubt", "rule-violated", "concurrent-change", "invalid-path"} <= kinds


def test_every_kind_the_code_answers_is_listed_in_the_readme() -> None:
    assert _kinds_in_code() - _kinds_in_readme() == set()


def test_the_readme_lists_no_kind_the_code_never_answers() -> None:
    assert _kinds_in_readme() - _kinds_in_code() == set()
