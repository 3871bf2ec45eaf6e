"""The bot's services: the logic behind the handlers (handlers parse, call a service, reply).
Each takes the per-update database session as an argument and commits its own unit of work."""

from .accounts import AccountService
from .admin import AdminService
from .generation import Draft, GenerationService
from .history import HistoryService
from .payments import PaymentService

__all__ = [
    "AccountService",
    "AdminService",
    "Draft",
    "GenerationService",
    "HistoryService",
    "PaymentService",
]
