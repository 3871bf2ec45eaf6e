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


async def test_a_style_preset_shapes_the_prompt_and_is_remembered(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER, caption="a cat")
    screen = harness.screen(USER)
    assert "opt:style:anime" in str(screen.params["reply_markup"])
    assert (
        t("create.style", "en", style=t("style.none", "en"), preview=t("style.none.preview", "en"))
        in (screen.params["text"])
    )
    await harness.tap(USER, "opt:style:anime", message_id=77)
    assert t("style.anime.preview", "en") in harness.screen(USER).params["text"]
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=77)
    await harness.tap(USER, harness.button(USER, "confirm:"), message_id=77)
    [spec] = harness.launcher.specs
    assert spec.prompt.startswith("a cat. Anime style")
    # The next photo starts with the style chosen last.
    await harness.photo(USER, caption="a dog")
    assert t("style.anime.preview", "en") in harness.screen(USER).params["text"]
    await money_is_right(harness)


async def test_a_style_that_no_longer_exists_is_refused_clearly(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER, caption="a cat")
    await harness.tap(USER, "opt:style:vaporwave", message_id=77)
    assert harness.texts(USER)[-1] == t("input.unknown_style", "en")
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=77)
    await harness.tap(USER, harness.button(USER, "confirm:"), message_id=77)
    [spec] = harness.launcher.specs
    assert spec.prompt == "a cat"


async def test_a_style_on_a_prompt_at_the_limit_is_refused_before_any_charge(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER, caption="x" * 1000)
    await harness.tap(USER, "opt:style:cinematic", message_id=77)
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=77)
    await harness.tap(USER, harness.button(USER, "confirm:"), message_id=77)
    assert harness.texts(USER)[-1] == t("input.style_too_long", "en")
    assert await harness.balance(USER) == 2 and harness.launcher.calls == []
