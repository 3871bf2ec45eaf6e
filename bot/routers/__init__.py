"""One router per feature; `all_routers()` gives them in the order the dispatcher includes them
(payments before the conversation, so a successful payment is never mistaken for an answer;
the fallback last)."""

from __future__ import annotations

from aiogram import Router


def all_routers() -> list[Router]:
    from . import admin, api_keys, balance, fallback, generate, help, history, payments, privacy, start

    return [
        start.router,
        payments.router,
        admin.router,
        generate.router,
        balance.router,
        history.router,
        help.router,
        api_keys.router,
        privacy.router,
        fallback.router,
    ]
