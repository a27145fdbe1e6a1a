"""The README's shell examples as data: each command of a ```sh block, with the outputs the
README documents under it (the `# →`, `# 201 {…}` and `#   verified: …` comment lines), and
how a documented output is held against the real answer.

A documented JSON output names the fields that must match; others may be there too. `…`
stands for anything: as a member or list element (more of them), as a value, or inside a
string. A string shown by its first characters (`"5f0c…"`, a token `1.oV0M…`) is a value
that differs from run to run (ids, tokens, hashes): only what precedes those characters is
compared. Prose beside the JSON (`(16th birthday, 00:00 Amsterdam)`, `: the file must now
be destroyed`) is not part of it."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

ELLIPSIS = "…"
OUTPUT_START = re.compile(r"^# (→|\d{3}\b|\{)|^# {3}\S")
ABBREVIATED = re.compile(r"[0-9A-Za-z_-]*…")


@dataclass
class Example:
    """One command of a README block and the outputs documented right under it."""

    section: str
    command: str
    outputs: list[str] = field(default_factory=list)


def sections(readme: str, headings: tuple[str, ...]) -> list[tuple[str, str]]:
    """The `## ` sections whose heading starts with one of ``headings``, in README order."""
    found = []
    for part in re.split(r"(?m)^## ", readme)[1:]:
        heading, _, body = part.partition("\n")
        if heading.startswith(headings):
            found.append((heading, body))
    return found


def examples(readme: str, headings: tuple[str, ...]) -> list[Example]:
    """Every command of the ```sh blocks of those sections, each with its documented outputs.
    An output documented where no command precedes it in its block raises: it would be
    compared with nothing."""
    found: list[Example] = []
    for heading, body in sections(readme, headings):
        for block in re.findall(r"```sh\n(.*?)```", body, re.S):
            found.extend(_block_examples(heading, block.splitlines()))
    return found


def _block_examples(section: str, lines: list[str]) -> list[Example]:
    found: list[Example] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if OUTPUT_START.match(line):
            output = [line]
            i += 1
            while i < len(lines) and re.match(r"^# {2,}", lines[i]):
                output.append(lines[i])
                i += 1
            if not found:
                raise ValueError(f"{section}: an output with no command before it: {line}")
            found[-1].outputs.append("\n".join(output))
            continue
        if not line.strip() or line.startswith("#"):
            i += 1
            continue
        command = [line]
        while not _complete("\n".join(command)) and i + 1 < len(lines):
            i += 1
            command.append(lines[i])
        found.append(Example(section, "\n".join(command)))
        i += 1
    return found


def _complete(command: str) -> bool:
    """Whether the lines so far are a whole command: quotes closed, no continuation."""
    if command.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return False
    return True


def is_json(output: str) -> bool:
    text = _strip(output)
    return bool(re.match(r"(\d{3}\s+)?[{\"]", text))


def _strip(output: str) -> str:
    return "\n".join(re.sub(r"^#\s?(→\s?)?", "", line) for line in output.splitlines()).strip()


def status_and_pattern(output: str) -> tuple[int | None, Any]:
    """The documented status (when shown) and the JSON pattern of the documented output."""
    text = _strip(output)
    status = None
    if match := re.match(r"(\d{3})\s+", text):
        status = int(match.group(1))
        text = text[match.end() :]
    parser = _Parser(text)
    pattern = parser.value() if text.startswith("{") else parser.members(closing=None)
    return status, pattern


class _Any:
    def __repr__(self) -> str:
        return "…"


ANY = _Any()


class _Parser:
    """JSON with `…` and prose beside it; stops at the end of the first value."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def _skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1

    def _peek(self) -> str:
        self._skip()
        return self.text[self.at] if self.at < len(self.text) else ""

    def _skip_prose(self) -> None:
        """A parenthesised remark between members: `(28 February 2026 is a Saturday)`."""
        while self._peek() == "(":
            depth = 0
            while self.at < len(self.text):
                depth += {"(": 1, ")": -1}.get(self.text[self.at], 0)
                self.at += 1
                if depth == 0:
                    break

    def value(self) -> Any:
        char = self._peek()
        if char == "{":
            self.at += 1
            return self.members(closing="}")
        if char == "[":
            self.at += 1
            return self._elements()
        if char == '"':
            match = re.compile(r'"((?:[^"\\]|\\.)*)"').match(self.text, self.at)
            assert match, self.text[self.at :]
            self.at = match.end()
            return _string_pattern(match.group(1))
        if char == ELLIPSIS:
            self.at += 1
            return ANY
        match = re.compile(r"-?\d+(\.\d+)?|true|false|null").match(self.text, self.at)
        assert match, f"not a value: {self.text[self.at :]!r}"
        self.at = match.end()
        return {"true": True, "false": False, "null": None}.get(match.group(), match.group())

    def members(self, closing: str | None) -> dict[str, Any]:
        found: dict[str, Any] = {}
        while True:
            self._skip_prose()
            char = self._peek()
            if char == ELLIPSIS:
                self.at += 1
            elif char == '"':
                key = self.value()
                if self._peek() != ":":
                    raise ValueError(f"no ':' after {key!r} in {self.text!r}")
                self.at += 1
                found[key.pattern if isinstance(key, re.Pattern) else key] = self.value()
            self._skip_prose()
            char = self._peek()
            if char == ",":
                self.at += 1
                continue
            if closing and char == closing:
                self.at += 1
            return found  # the closing brace, or prose after a fragment's last member

    def _elements(self) -> list[Any]:
        found = []
        while self._peek() != "]":
            found.append(self.value())
            if self._peek() == ",":
                self.at += 1
        self.at += 1
        return found


def _string_pattern(text: str) -> Any:
    text = text.replace('\\"', '"').replace("\\n", "\n")
    if text == ELLIPSIS:
        return ANY
    if ELLIPSIS not in text:
        return text
    parts = [re.escape(part) for part in ABBREVIATED.split(text)]
    pattern = re.compile(".*".join(parts), re.S)
    SHOWN[pattern] = text
    return pattern


SHOWN: dict[re.Pattern[str], str] = {}  # each string pattern's text as the README shows it


def bindings(pattern: Any, actual: Any) -> dict[str, str]:
    """The values that a matched output shows by their first characters (`"5f0c…"`), so
    that a later command naming them (`R=5f0c…`) can be given the real one."""
    found: dict[str, str] = {}
    if isinstance(pattern, dict) and isinstance(actual, dict):
        for key, value in pattern.items():
            found |= bindings(value, actual.get(key))
    elif isinstance(pattern, list) and isinstance(actual, list) and ANY not in pattern:
        for item, value in zip(pattern, actual, strict=False):
            found |= bindings(item, value)
    elif isinstance(pattern, re.Pattern) and isinstance(actual, str):
        shown = SHOWN.get(pattern, "")
        if re.fullmatch(r"[0-9A-Za-z_-]+…", shown):
            found[shown] = actual
    return found


def mismatches(pattern: Any, actual: Any, where: str = "") -> list[str]:
    """What of the pattern the actual answer does not hold (empty: it matches)."""
    if pattern is ANY:
        return []
    if isinstance(pattern, dict):
        if not isinstance(actual, dict):
            return [f"{where or '.'}: expected an object, got {actual!r}"]
        found = []
        for key, value in pattern.items():
            if key not in actual:
                found.append(f"{where}.{key}: missing")
            else:
                found.extend(mismatches(value, actual[key], f"{where}.{key}"))
        return found
    if isinstance(pattern, list):
        return _list_mismatches(pattern, actual, where)
    if isinstance(pattern, re.Pattern):
        if isinstance(actual, str) and pattern.fullmatch(actual):
            return []
        return [f"{where}: {actual!r} does not match {pattern.pattern!r}"]
    if isinstance(pattern, str) and re.fullmatch(r"-?\d+(\.\d+)?", pattern):
        return [] if str(actual) == pattern else [f"{where}: {actual!r} is not {pattern}"]
    return [] if actual == pattern else [f"{where}: {actual!r} is not {pattern!r}"]


def _list_mismatches(pattern: list[Any], actual: Any, where: str) -> list[str]:
    if not isinstance(actual, list):
        return [f"{where}: expected a list, got {actual!r}"]
    shown = [item for item in pattern if item is not ANY]
    if len(shown) == len(pattern):
        if len(actual) != len(pattern):
            return [f"{where}: {len(actual)} items, the README shows {len(pattern)}: {actual!r}"]
        return [m for i, p in enumerate(pattern) for m in mismatches(p, actual[i], f"{where}[{i}]")]
    rest = iter(actual)  # with `…`: the items shown, in order, among others
    for item in shown:
        if not any(not mismatches(item, candidate) for candidate in rest):
            return [f"{where}: no item matching {item!r} (in order) in {actual!r}"]
    return []


def text_mismatches(output: str, actual: str, loose: list[tuple[str, str]]) -> list[str]:
    """Each documented line matches a line of the actual output, in order. ``loose`` lists
    (regex, stand-in) pairs applied to both sides first: parts that differ from run to run."""

    def normal(line: str) -> str:
        line = " ".join(line.split())
        for regex, stand_in in loose:
            line = re.sub(regex, stand_in, line)
        return line

    lines = iter(normal(line) for line in actual.splitlines())
    missing = []
    for documented in _strip(output).splitlines():
        regex = _string_pattern(normal(documented))
        if not any(_line_matches(regex, line) for line in lines):
            missing.append(f"no line (in order) like {normal(documented)!r}")
    return missing


def _line_matches(pattern: Any, line: str) -> bool:
    if isinstance(pattern, re.Pattern):
        return bool(pattern.fullmatch(line))
    return pattern is ANY or pattern == line
