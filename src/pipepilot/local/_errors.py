"""The error the offline engines raise: AWS's error code, message and HTTP status.

The wiring turns it into the JSON error envelope AWS sends (``__type`` + ``message``), so botocore
raises an ordinary :class:`botocore.exceptions.ClientError` and pipepilot's error table runs as in
production.
"""

from __future__ import annotations

__all__ = ["ServiceError"]


class ServiceError(Exception):
    """An AWS error response: ``code`` as AWS spells it, a ``message``, and the HTTP ``status``."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
