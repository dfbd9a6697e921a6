"""Why a why-chain ended: the values of the `why_stop` slot.

One place for the names, so the bot (which writes the slot when a chain
ends) and analytics (which counts chains by it) cannot drift apart. Pure:
no imports, usable from both environments.

- specific: the last answer named a driver and something concrete
- known_issue: a known issue matched (its fix is offered instead)
- done: the customer stopped ("nie wiem", a refusal, a repeat, "to wszystko")
- limit: NPS_MAX_WHYS answers reached
- vague_limit: answers without content ("tak", an emoji) after one clarification
"""

SPECIFIC = "specific"
KNOWN_ISSUE = "known_issue"
DONE = "done"
LIMIT = "limit"
VAGUE_LIMIT = "vague_limit"

WHY_STOPS = (SPECIFIC, KNOWN_ISSUE, DONE, LIMIT, VAGUE_LIMIT)
# Chains that got to something an analyst can act on.
REACHED_A_CAUSE = {SPECIFIC, KNOWN_ISSUE}
