"""The error taxonomy: typed errors, `classify` (provider answers → ErrorClass) and `policy`
(ErrorClass × attempt → retry or give up). Pure and table-driven."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ErrorClass(StrEnum):
    TEMPORARY = "TEMPORARY"
    USER_VIOLATION = "USER_VIOLATION"
    BILLING = "BILLING"
    RATE_LIMIT = "RATE_LIMIT"
    UNKNOWN = "UNKNOWN"


class VidgenError(Exception):
    """Base of every typed error; `key` names the user-facing text in core/texts."""

    key = "error.unknown"


class ProviderError(VidgenError):
    def __init__(self, error_class: ErrorClass, code: str, detail: str = "") -> None:
        super().__init__(f"{error_class}:{code}: {detail}")
        self.error_class = error_class
        self.code = code
        self.detail = detail

    @property
    def key(self) -> str:  # type: ignore[override]
        return MESSAGE_KEYS[self.error_class]


class InputError(VidgenError):
    """The user's input (photo, prompt, options) cannot be used."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.key = f"input.{code}"


class LedgerError(VidgenError):
    key = "error.ledger"


class InsufficientCredits(LedgerError):
    key = "error.insufficient_credits"

    def __init__(self, user_id: int, balance: int, needed: int) -> None:
        super().__init__(f"user {user_id} has {balance} credits, needs {needed}")
        self.user_id, self.balance, self.needed = user_id, balance, needed


class InvalidAmount(LedgerError):
    key = "error.invalid_amount"


class UnknownUser(LedgerError):
    key = "error.unknown_user"

    def __init__(self, user_id: int) -> None:
        super().__init__(f"unknown user {user_id}")
        self.user_id = user_id


class NotDebited(LedgerError):
    """A refund for a generation that was never debited."""

    key = "error.not_debited"


class IdempotencyConflict(LedgerError):
    """The same (kind, ref) was already used for a different user or amount."""

    key = "error.ledger"


class InvalidTransition(VidgenError):
    key = "error.unknown"


MESSAGE_KEYS: dict[ErrorClass, str] = {
    ErrorClass.TEMPORARY: "error.temporary",
    ErrorClass.USER_VIOLATION: "error.user_violation",
    ErrorClass.BILLING: "error.billing",
    ErrorClass.RATE_LIMIT: "error.rate_limit",
    ErrorClass.UNKNOWN: "error.unknown",
}
DELIVERY_FAILED_KEY = "error.delivery"
#: Failures that are about the provider account (its key), not the generation: a bad key, no
#: credits at the provider, a sub-key cap. The account goes out of rotation; the generation can
#: run on another account.
ACCOUNT_FAILURE_CODES = frozenset({"provider_401", "provider_402", "provider_433"})

# ------------------------------------------------------------------------------------------
# classify

#: Provider body codes (KIE.AI's `code`, also sent with HTTP 200) → class. 422 and 501 depend
#: on the message and are handled below.
CODE_TABLE: dict[int, ErrorClass] = {
    401: ErrorClass.BILLING,
    402: ErrorClass.BILLING,
    403: ErrorClass.BILLING,
    404: ErrorClass.UNKNOWN,
    408: ErrorClass.TEMPORARY,
    429: ErrorClass.RATE_LIMIT,
    433: ErrorClass.BILLING,
    451: ErrorClass.TEMPORARY,  # Veo/Runway could not fetch the image: a new upload may work
    455: ErrorClass.TEMPORARY,
    500: ErrorClass.TEMPORARY,
    502: ErrorClass.TEMPORARY,
    503: ErrorClass.TEMPORARY,
    504: ErrorClass.TEMPORARY,
    505: ErrorClass.BILLING,
}

#: Words in a failure message that mean the provider refused the user's image or prompt.
_VIOLATION = re.compile(
    r"content.?polic|unsafe|nsfw|sensitive|violat|celebrit|public figure|real person|\bfaces?\b|"
    r"copyright|prohibit|inappropriate|moderat|safety|not allowed|explicit|minor",
    re.IGNORECASE,
)
#: Words in a 422 message that mean the problem is the user's input, not our parameters.
_ABOUT_INPUT = re.compile(r"image|photo|picture|prompt|content|file", re.IGNORECASE)

#: Exception class names (anywhere in the MRO) that mean a network problem. Core does not
#: import httpx/openai, so these are matched by name.
NETWORK_EXCEPTIONS = frozenset(
    {
        "TransportError",
        "TimeoutException",
        "NetworkError",
        "RemoteProtocolError",
        "APIConnectionError",
        "APITimeoutError",
        "ClientConnectionError",
        "ServerDisconnectedError",
    }
)


@dataclass(frozen=True)
class Failure:
    error_class: ErrorClass
    code: str
    detail: str = ""


def _is_network(exc: BaseException) -> bool:
    if isinstance(exc, (OSError, TimeoutError, ConnectionError)):
        return True
    return any(cls.__name__ in NETWORK_EXCEPTIONS for cls in type(exc).__mro__)


def classify(
    *,
    http_status: int | None = None,
    code: int | None = None,
    message: str | None = None,
    exception: BaseException | None = None,
) -> ErrorClass:
    """Map a provider's answer to an ErrorClass. The body's code wins over the HTTP status
    (KIE.AI sends some errors with HTTP 200); a network exception is TEMPORARY."""
    return classify_failure(
        http_status=http_status, code=code, message=message, exception=exception
    ).error_class


def classify_failure(
    *,
    http_status: int | None = None,
    code: int | None = None,
    message: str | None = None,
    exception: BaseException | None = None,
) -> Failure:
    text = (message or "").strip()
    if exception is not None:
        if isinstance(exception, ProviderError):
            return Failure(exception.error_class, exception.code, exception.detail)
        if _is_network(exception):
            name = "timeout" if "timeout" in type(exception).__name__.lower() else "network"
            return Failure(ErrorClass.TEMPORARY, name, text or type(exception).__name__)
        return Failure(ErrorClass.UNKNOWN, "exception", text or type(exception).__name__)
    effective = code if code not in (None, 200, 0) else http_status
    if effective in (None, 200, 0):
        return Failure(ErrorClass.UNKNOWN, "no_code", text)
    assert effective is not None
    label = f"provider_{effective}"
    if effective == 422:
        cls = (
            ErrorClass.USER_VIOLATION
            if _ABOUT_INPUT.search(text) or _VIOLATION.search(text)
            else ErrorClass.UNKNOWN
        )
        return Failure(cls, label, text)
    if effective == 501:
        cls = ErrorClass.USER_VIOLATION if _VIOLATION.search(text) else ErrorClass.TEMPORARY
        return Failure(cls, label, text)
    if effective == 400:  # Veo and Runway: a content-policy refusal, else a bad request
        cls = ErrorClass.USER_VIOLATION if _VIOLATION.search(text) else ErrorClass.UNKNOWN
        return Failure(cls, label, text)
    if effective in CODE_TABLE:
        return Failure(CODE_TABLE[effective], label, text)
    if 500 <= effective < 600:
        return Failure(ErrorClass.TEMPORARY, label, text)
    return Failure(ErrorClass.UNKNOWN, label, text)


# ------------------------------------------------------------------------------------------
# policy


@dataclass(frozen=True)
class RetryLimits:
    max_attempts: int = 3
    rate_limit_max_attempts: int = 6
    base_delay: float = 20.0
    max_delay: float = 600.0


@dataclass(frozen=True)
class Retry:
    delay: float


@dataclass(frozen=True)
class GiveUp:
    message_key: str
    refund: bool = True


Decision = Retry | GiveUp


def backoff(attempt: int, limits: RetryLimits) -> float:
    """Exponential backoff for attempt n (1-based): base, 2·base, 4·base … capped."""
    return float(min(limits.max_delay, limits.base_delay * (2 ** max(0, attempt - 1))))


def policy(
    error_class: ErrorClass,
    attempt: int,
    limits: RetryLimits = RetryLimits(),
    rate_limit_delay: float | None = None,
) -> Decision:
    """What to do after attempt number `attempt` (1-based) failed with `error_class`."""
    key = MESSAGE_KEYS[error_class]
    if error_class in (ErrorClass.USER_VIOLATION, ErrorClass.BILLING):
        return GiveUp(key)
    if error_class is ErrorClass.RATE_LIMIT:
        if attempt >= limits.rate_limit_max_attempts:
            return GiveUp(key)
        delay = rate_limit_delay if rate_limit_delay is not None else backoff(attempt, limits)
        return Retry(min(limits.max_delay, delay))
    if attempt >= limits.max_attempts:
        return GiveUp(key)
    return Retry(backoff(attempt, limits))
