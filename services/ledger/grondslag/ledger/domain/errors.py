"""Domain errors. The HTTP layer maps them to RFC 9457 problem+json answers."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain makes."""

    def __init__(self, detail: str, *, rule: str | None = None, field: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.rule = rule
        self.field = field


class RuleViolated(DomainError):
    """A rule of docs/rules.md refuses the command (HTTP 409)."""

    def __init__(self, rule: str, detail: str, *, field: str | None = None):
        super().__init__(detail, rule=rule, field=field)


class NotFound(DomainError):
    """The object does not exist for this tenant (HTTP 404, same as another tenant's)."""


class InvalidInput(DomainError):
    """The body is well-formed but its values do not fit together (HTTP 422)."""


class ConcurrentChange(DomainError):
    """Someone else changed the same stream in between; the caller may retry (HTTP 409)."""


class PreconditionFailed(DomainError):
    """``If-Match`` names a version that is not the current one (HTTP 412)."""


class PreconditionRequired(DomainError):
    """The write changes what another writer may have changed since it was read; it must
    name the version it read (HTTP 428)."""
