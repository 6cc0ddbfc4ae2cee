"""What the bot says when the box stops under a call (SIGTERM: a restart, an update, a shutdown): a short
goodbye in the flow's language, so the customer hears why the call ends instead of a line going dead."""

from __future__ import annotations

__all__ = ["BOX_STOPPING", "goodbye_text"]

BOX_STOPPING = {
    "en": "Sorry, we have to end the call now. Goodbye.",
    "zh": "抱歉，我们现在需要结束通话。再见。",
}


def goodbye_text(language: str) -> str:
    """The goodbye for a flow in ``language`` ("zh-CN" as "zh"); English for a language without one."""
    base = (language or "en").split("-")[0].split("_")[0].lower()
    return BOX_STOPPING.get(base, BOX_STOPPING["en"])
