"""Domain errors. The domain raises them; the web layer maps them to HTTP once."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every error a domain function raises on purpose."""


class NotFound(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class InvalidTransition(DomainError):
    pass


class ValidationError(DomainError):
    """One or more field errors: {field: [message, ...]}; messages are already translated."""

    def __init__(self, errors: dict[str, list[str]] | str):
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = errors
        super().__init__("; ".join(m for msgs in errors.values() for m in msgs))
