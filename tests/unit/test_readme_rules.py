"""The README's "Where the rules live" table is complete: every module that names a rule of
RULES.md in its code (a refusal, a reason) is linked from a row of the table that names
that rule, so a reader finds any rule's code from the README in one click."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULE = re.compile(r"\bR([1-9][0-9]?)\b")
RULE_IN_CODE = re.compile(r"[\"']R([1-9][0-9]?)[\"']")  # "R20" as a value, not in prose
LINK = re.compile(r"\]\(([^)#]+)\)")


def _table() -> list[tuple[set[str], set[Path]]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Where the rules live", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not set(line) <= set("|- "):
            rules = {f"R{n}" for n in RULE.findall(line)}
            links = {(ROOT / target).resolve() for target in LINK.findall(line)}
            rows.append((rules, links))
    return rows


def _rules_in_code() -> dict[Path, set[str]]:
    found = {}
    for path in sorted((ROOT / "services").rglob("*.py")):
        if path.name == "errors.py":  # defines how a rule is named, names none
            continue
        rules = {f"R{n}" for n in RULE_IN_CODE.findall(path.read_text())}
        if rules:
            found[path.resolve()] = rules
    return found


def test_every_module_naming_a_rule_is_in_the_row_of_that_rule():
    rows = _table()
    assert len(rows) > 10
    missing = {}
    for path, rules in _rules_in_code().items():
        listed = set().union(*(row for row, links in rows if path in links))
        if rules - listed:
            missing[str(path.relative_to(ROOT))] = sorted(rules - listed)
    assert missing == {}


def test_every_link_of_the_table_leads_to_a_file_of_the_repository():
    for _, links in _table():
        for link in links:
            assert link.exists(), link
            assert ROOT in link.parents
