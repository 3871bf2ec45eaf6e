"""Options from the model catalogue: the length per model, and the price of the chosen model and
length (× credits_per_video) is what the confirm screen shows and what is debited."""

from __future__ import annotations

from tests.integration.bot.harness import USER, Harness
from tests.integration.bot.test_bot_honest_money import money_is_right
from vidgen.core.texts import t


async def test_a_longer_clip_costs_what_the_catalogue_says(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER, caption="a cat")
    assert "opt:duration:15" in str(harness.screen(USER).params["reply_markup"])
    await harness.tap(USER, "opt:duration:15", message_id=77)
    assert "portrait 9:16, 15 s" in harness.screen(USER).params["text"]
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=77)
    text = harness.screen(USER).params["text"]
    assert "15 s" in text and "Cost: 2 credits. Balance: 2 credits." in text
    await harness.tap(USER, harness.button(USER, "confirm:"), message_id=77)
    [spec] = harness.launcher.specs
    assert spec.duration_seconds == 15
    [debit] = await harness.entries(USER, "debit")
    assert debit.delta == -2 and await harness.balance(USER) == 0
    await money_is_right(harness)


async def test_a_model_priced_higher_is_charged_its_price(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER, caption="a cat")
    await harness.tap(USER, "opt:model:veo3_fast", message_id=77)
    screen = harness.screen(USER)
    assert "opt:duration" not in str(screen.params["reply_markup"])  # one length only
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=77)
    assert "8 s" in harness.screen(USER).params["text"]
    await harness.tap(USER, harness.button(USER, "confirm:"), message_id=77)
    [debit] = await harness.entries(USER, "debit")
    assert debit.delta == -2
    await money_is_right(harness)


async def test_a_length_the_model_does_not_offer_is_refused(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER, caption="a cat")
    await harness.tap(USER, "opt:duration:7", message_id=77)
    assert harness.texts(USER)[-1] == t("input.bad_duration", "en")
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=77)
    assert "10 s" in harness.screen(USER).params["text"]
