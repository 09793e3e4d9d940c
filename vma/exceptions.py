"""Errors a user can act on; views show their message, never a 500."""


class ActionRefused(Exception):
    """A workflow action that is not allowed now (wrong state, no permission, stale form)."""

    status_code = 409

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code

    def __str__(self) -> str:
        return self.message


class NotPermitted(ActionRefused):
    status_code = 403
