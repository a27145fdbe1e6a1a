"""From a rule to its code in one click. The README's "Where the rules live" table is
complete: every module that names a rule of docs/rules.md in its code (a refusal, a reason)
is linked from a row of the table that names that rule. And each rule R1…R24 of
docs/rules.md links the one function that enforces it: a function the linked file defines,
in a module that names the rule, and a file the README's row for that rule links too."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULE = re.compile(r"\bR([1-9][0-9]?)\b")
RULE_IN_CODE = re.compile(r"[\"']R([1-9][0-9]?)[\"']")  # "R20" as a value, not in prose
LINK = re.compile(r"\]\(([^)#]+)\)")
RULES = ROOT / "docs" / "rules.md"
ENFORCED_BY = re.compile(r"Enforced by \[`([\w.]+)`\]\(([^)#]+)\)")


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


def _enforcers() -> dict[str, list[tuple[str, Path]]]:
    """Each rule of docs/rules.md with the functions its text says enforce it."""
    found: dict[str, list[tuple[str, Path]]] = {}
    rule = None
    for line in RULES.read_text().splitlines():
        if heading := re.match(r"\* \*\*(R\d+)\*\*", line):
            rule = heading.group(1)
            found[rule] = []
        elif re.match(r"(\* |#)", line):
            rule = None  # the next bullet or section is no rule's text
        if rule:
            found[rule] += [
                (name, (RULES.parent / target).resolve())
                for name, target in ENFORCED_BY.findall(line)
            ]
    return found


def defines(path: Path, name: str) -> bool:
    """Whether the module at ``path`` defines ``name``: a function, or ``Class.method``."""
    scope: list[ast.stmt] = ast.parse(path.read_text()).body
    *classes, function = name.split(".")
    for class_name in classes:
        found = [n for n in scope if isinstance(n, ast.ClassDef) and n.name == class_name]
        if not found:
            return False
        scope = found[0].body
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return any(isinstance(n, kinds) and n.name == function for n in scope)


def test_every_rule_of_the_rules_is_enforced_by_one_linked_function():
    enforcers = _enforcers()
    assert sorted(enforcers, key=lambda r: int(r[1:])) == [f"R{n}" for n in range(1, 25)]
    assert {rule: len(links) for rule, links in enforcers.items() if len(links) != 1} == {}


@pytest.mark.parametrize("rule", [f"R{n}" for n in range(1, 25)])
def test_the_function_enforcing_a_rule_is_defined_where_linked_in_a_module_naming_it(rule):
    [(name, path)] = _enforcers()[rule]
    assert ROOT / "services" in path.parents and path.exists(), path
    assert defines(path, name), f"{path.relative_to(ROOT)} defines no {name}"
    assert re.search(rf"\b{rule}\b", path.read_text()), f"{path.relative_to(ROOT)} names no {rule}"
    linked = set().union(*(links for rules, links in _table() if rule in rules))
    assert path in linked, f"the README's rows of {rule} do not link {path.relative_to(ROOT)}"


def test_a_method_is_found_in_its_class_and_nowhere_else(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("class A:\n    def f(self): ...\n\ndef g(): ...\n")
    assert defines(module, "A.f") and defines(module, "g")
    assert not defines(module, "f") and not defines(module, "A.g") and not defines(module, "B.f")
