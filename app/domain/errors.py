"""The errors services raise; app/web/errors.py maps each to one HTTP status."""


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(DomainError):
    status = 404
    code = "not_found"


class NotAuthorized(DomainError):
    """The actor may not do this (403)."""
    status = 403
    code = "forbidden"


class NotAuthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class Conflict(DomainError):
    """The thing moved on: task already completed, stale revision, case not in a state for this."""
    status = 409
    code = "conflict"


#: the message of a transaction that lost to a concurrent one on the same case and was rolled back whole
CONCURRENT_CHANGE = "办件同时有其他操作，本次操作未生效，请刷新后重试 (concurrent change)"


class ConcurrentChange(Conflict):
    """The transaction lost to a concurrent one on the same rows and was rolled back whole: nothing is
    wrong with the request, and trying it again may succeed (app/services/common/db_support.rolled_back)."""


class ValidationError(DomainError):
    """Bad input; ``details`` maps field names to lists of messages."""
    status = 422
    code = "validation_error"


class RateLimited(DomainError):
    """Too many requests (429); ``retry_after`` seconds until the next one is allowed."""
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 60, details: dict | None = None):
        super().__init__(message, details=details)
        self.retry_after = max(1, int(retry_after))


class InvalidModel(DomainError):
    """A BPMN file, form or matter metadata that cannot be deployed. ``details['errors']`` is a list
    of ``{"element": id-or-None, "file": name, "message": text}``."""
    status = 422
    code = "invalid_model"

    def __init__(self, message: str, errors: list[dict]):
        super().__init__(message, details={"errors": errors})
        self.errors = errors
