"""English texts. Keys are shared with ru.py."""

TEXTS: dict[str, str] = {
    # progress (edited in place by the operator / local controller)
    "progress.pending": "⏳ Request received. Preparing your video…",
    "progress.queued": "⏳ In the queue: position {position}.",
    "progress.queued_retry": "🔁 Attempt {attempt} will start shortly (position {position}).",
    "progress.running": "🎬 Generating your video (attempt {attempt})… this usually takes 3–5 minutes.",
    "progress.generated": "✅ Video ready, sending it…",
    "progress.delivered": "✅ Done! Your video is below.",
    "progress.failed": "❌ The video could not be made. {reason}",
    # delivery
    "delivery.caption": "🎬 Your video is ready! Balance: {balance} credits.",
    "button.generate_again": "🔁 Generate again",
    # errors (keys used by core.errors)
    "error.temporary": "The video service had a temporary problem. Your credit has been returned.",
    "error.user_violation": "The video service refused this photo or prompt (content rules). Your credit has been returned; try another photo or prompt.",
    "error.billing": "The video service is unavailable right now. Your credit has been returned; please try again later.",
    "error.rate_limit": "The video service is overloaded right now. Your credit has been returned; please try again in a few minutes.",
    "error.unknown": "Something went wrong while making the video. Your credit has been returned.",
    "error.delivery": "We made the video but could not send it to you. Your credit has been returned.",
    "error.insufficient_credits": "Not enough credits: you have {balance}, a video costs {needed}.",
    "error.invalid_amount": "The amount must be a positive whole number.",
    "error.unknown_user": "Unknown user. Send /start first.",
    "error.not_debited": "Nothing to refund for this video.",
    "error.ledger": "The balance could not be updated. Nothing was charged.",
    "error.generic": "Something went wrong. Nothing was charged; please try again.",
    "refund.done": "Your credit was returned. Balance: {balance} credits.",
}
