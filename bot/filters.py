"""Filters shared by routers."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message

from .services.admin import AdminService


class IsAdmin(Filter):
    """True for the admin ids from settings. A non-admin's admin command falls through to the
    unknown-command reply, so nobody learns that admin commands exist."""

    async def __call__(self, event: Message | CallbackQuery, admin: AdminService) -> bool:
        user = event.from_user
        return admin.is_admin(user.id if user else None)
