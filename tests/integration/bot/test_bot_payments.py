"""Telegram Stars: packages → invoice → pre-checkout → successful_payment (credited once per
charge id, even when Telegram sends it twice) → admin refund; /paysupport and /terms."""

from __future__ import annotations

import copy

from tests.integration.bot.harness import ADMIN, USER, Harness
from vidgen.core.texts import t


async def test_invoice_pre_checkout_and_payment_sent_twice_credit_once(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.tap(USER, "menu:buy", message_id=10)
    screen = harness.last("editMessageText", USER)
    assert [b["callback_data"] for b in harness.buttons(screen)] == [
        "buy:p5",
        "buy:p12",
        "buy:p30",
        "menu:home",
    ]

    await harness.tap(USER, "buy:p12", message_id=10)
    invoice = harness.last("sendInvoice", USER)
    assert invoice.params["currency"] == "XTR"
    assert invoice.params["payload"] == "p12"
    assert invoice.params.get("provider_token", "") == ""
    assert invoice.json("prices") == [{"label": t("invoice.label", "en"), "amount": 200}]
    assert len(await harness.events("invoice_sent")) == 1

    await harness.feed(harness.tg.pre_checkout_update(USER, "p12", 200))
    answer = harness.last("answerPreCheckoutQuery")
    assert answer.params["ok"] == "true"

    paid = harness.stamp(harness.tg.successful_payment_update(USER, "p12", 200, charge_id="charge-1"))
    await harness.feed(copy.deepcopy(paid))
    await harness.feed(copy.deepcopy(paid))  # Telegram delivers it again
    await harness.feed(
        harness.tg.successful_payment_update(USER, "p12", 200, charge_id="charge-1")
    )  # new update id

    assert await harness.balance(USER) == 2 + 12
    [purchase] = await harness.entries(USER, "purchase")
    assert (purchase.delta, purchase.ref) == (12, "charge-1")
    [payment] = await harness.payments()
    assert (payment.charge_id, payment.stars, payment.credits, payment.package_id) == (
        "charge-1",
        200,
        12,
        "p12",
    )
    assert len(await harness.events("payment_succeeded")) == 1
    replies = [x for x in harness.texts(USER) if x == t("payment.success", "en", credits=12, balance=14)]
    assert len(replies) == 1


async def test_pre_checkout_refusals(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.feed(harness.tg.pre_checkout_update(USER, "p5", 99))
    assert harness.last("answerPreCheckoutQuery").params["ok"] == "false"
    assert harness.last("answerPreCheckoutQuery").params["error_message"] == t(
        "payment.amount_mismatch", "en"
    )
    await harness.feed(harness.tg.pre_checkout_update(USER, "gold", 100))
    assert harness.last("answerPreCheckoutQuery").params["error_message"] == t(
        "payment.unknown_package", "en"
    )
    await harness.feed(harness.tg.pre_checkout_update(USER, "p5", 100, currency="USD"))
    assert harness.last("answerPreCheckoutQuery").params["ok"] == "false"
    await harness.text(ADMIN, f"/block {USER}")
    await harness.feed(harness.tg.pre_checkout_update(USER, "p5", 100))
    assert harness.last("answerPreCheckoutQuery").params["error_message"] == t("blocked", "en")
    assert len(harness.tg.calls_to("answerPreCheckoutQuery")) == 4


async def test_a_payment_that_matches_no_package_is_kept_not_credited(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.feed(harness.tg.successful_payment_update(USER, "p5", 42, charge_id="odd-1"))
    assert await harness.balance(USER) == 2
    [payment] = await harness.payments()
    assert (payment.charge_id, payment.stars, payment.credits) == ("odd-1", 42, 0)
    assert harness.texts(USER)[-1] == t("payment.unmatched", "en")


async def test_admin_refund_reverses_the_purchase_once(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.feed(harness.tg.successful_payment_update(USER, "p5", 100, charge_id="charge-9"))
    assert await harness.balance(USER) == 7
    refund = harness.stamp(harness.tg.text_update(ADMIN, "/refund charge-9"))
    await harness.feed(copy.deepcopy(refund))
    [call] = harness.tg.calls_to("refundStarPayment")
    assert call.params == {"user_id": str(USER), "telegram_payment_charge_id": "charge-9"}
    assert await harness.balance(USER) == 2
    [reversal] = await harness.entries(USER, "purchase_refund")
    assert (reversal.delta, reversal.ref) == (-5, "charge-9")
    [payment] = await harness.payments()
    assert payment.refunded and payment.refunded_at is not None
    [event] = await harness.events("payment_refunded")
    assert event.properties["actor"] == f"admin:{ADMIN}"
    assert harness.texts(ADMIN)[-1] == t(
        "admin.refunded", "en", charge="charge-9", stars=100, credits=5, balance=2
    )
    # The buyer is told, with the balance the ledger now holds.
    assert harness.texts(USER)[-1] == t("payment.refunded", "en", stars=100, credits=5, balance=2)
    assert "2 credits" in harness.texts(USER)[-1]

    await harness.feed(copy.deepcopy(refund))  # replayed command
    await harness.text(ADMIN, "/refund charge-9")  # or typed again
    assert len(harness.tg.calls_to("refundStarPayment")) == 1
    assert harness.texts(ADMIN)[-1] == t("admin.refund_already", "en", charge="charge-9")
    assert await harness.balance(USER) == 2
    await harness.text(ADMIN, "/refund nope")
    assert harness.texts(ADMIN)[-1] == t("admin.no_payment", "en", charge="nope")


async def test_refund_when_telegram_refuses(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.feed(harness.tg.successful_payment_update(USER, "p5", 100, charge_id="charge-x"))
    harness.tg.fail("refundStarPayment", code=400, description="Bad Request: CHARGE_NOT_FOUND")
    await harness.text(ADMIN, "/refund charge-x")
    assert harness.texts(ADMIN)[-1].startswith(t("admin.refund_failed", "en", error="")[:10])
    assert await harness.balance(USER) == 7
    assert not (await harness.payments())[0].refunded
    # Telegram already refunded it (an earlier try whose database step failed): finish the job.
    harness.tg.fail("refundStarPayment", code=400, description="Bad Request: CHARGE_ALREADY_REFUNDED")
    await harness.text(ADMIN, "/refund charge-x")
    assert (await harness.payments())[0].refunded and await harness.balance(USER) == 2


async def test_a_refund_never_takes_the_balance_below_zero(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.feed(harness.tg.successful_payment_update(USER, "p5", 100, charge_id="spent"))
    for _ in range(7):
        await harness.tap(USER, await harness.prepare(USER), message_id=500)
    assert await harness.balance(USER) == 0
    await harness.text(ADMIN, "/refund spent")
    assert await harness.balance(USER) == 0
    assert harness.texts(ADMIN)[-1] == t(
        "admin.refunded", "en", charge="spent", stars=100, credits=0, balance=0
    )


async def test_paysupport_and_terms(harness: Harness) -> None:
    await harness.text(USER, "/paysupport")
    assert harness.texts(USER)[-1] == t("support.help", "en")
    await harness.text(USER, "/paysupport I paid twice yesterday")
    assert harness.texts(USER)[-1] == t("support.sent", "en")
    assert "I paid twice yesterday" in harness.texts(ADMIN)[-1]
    await harness.text(USER, "/terms")
    assert harness.texts(USER)[-1] == t("terms", "en", cost=1) + "\n" + t("terms.privacy", "en", days=30)
