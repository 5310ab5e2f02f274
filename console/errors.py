"""Domain errors raised by the data layer; main.py maps them to HTTP answers.

The repository never imports FastAPI, so the CLI and the consumer can use it too.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """An expected failure with an English message meant for the API client."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(ConsoleError):
    status_code = 400


class NotFoundError(ConsoleError):
    status_code = 404


class ConflictError(ConsoleError):
    status_code = 409


class PermissionDeniedError(ConsoleError):
    status_code = 403


class ServiceUnavailableError(ConsoleError):
    """A neighbour the request needs (the billing system) did not answer; nothing was changed."""

    status_code = 503
