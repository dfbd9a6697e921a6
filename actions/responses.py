"""The names of the responses the custom actions say.

The words are the trainers' (domain/responses.yml); the actions refer to a
response only through a name defined here, so the tests can check these
names against the domain without reading the actions' source. A choice
that depends on a value is a mapping from that value to a name, with the
name to use when the value is missing.
"""

from __future__ import annotations

from nps import groups

# --- starting, leaving, the fallback -----------------------------------------
INTRO = "utter_intro"
RESURVEY_COOLDOWN = "utter_resurvey_cooldown"
GOODBYE_STOP = "utter_goodbye_stop"
GOODBYE = "utter_goodbye"
DEFAULT = "utter_default"
COMMENT_THANKS = "utter_comment_thanks"
ANYTHING_ELSE = "utter_anything_else"
RESTARTING = "utter_restarting"
# The channel cut a very long message at the length cap (metadata "shortened").
MESSAGE_SHORTENED = "utter_message_shortened"

# --- the score ------------------------------------------------------------------
# An answer the score parser could not use, by its status; anything else
# (no number at all) is "unclear".
SCORE_ASK_AGAIN = {
    "out_of_range": "utter_score_out_of_range",
    "ambiguous": "utter_score_ambiguous",
    "school_grade": "utter_score_school_grade",
}
SCORE_UNCLEAR = "utter_score_unclear"
SCORE_UNCLEAR_REASON_KEPT = "utter_score_unclear_reason_kept"
SCORE_SKIPPED = "utter_score_skipped"

# --- the reason, the fix, yes/no -------------------------------------------------
# The reason question by NPS group: praise, doubt or complaint.
ASK_REASON = {
    groups.PROMOTER: "utter_ask_reason_promoter",
    groups.PASSIVE: "utter_ask_reason_passive",
    groups.DETRACTOR: "utter_ask_reason_detractor",
}
ASK_REASON_NO_SCORE = "utter_ask_reason_neutral"
# An answer to a "why?" without content ("tak", an emoji): a few words, please.
WHY_CLARIFY = "utter_why_clarify"
FIX_INTRO = "utter_fix_intro"
ASK_ISSUE_RESOLVED = "utter_ask_issue_resolved"
ISSUE_NOT_RESOLVED = "utter_issue_not_resolved"
CLARIFY_YES_NO = "utter_clarify_yes_no"

# --- the goodbye ------------------------------------------------------------------
# The thanks by NPS group; a detractor who agreed to be contacted is told so.
THANKS = {
    groups.PROMOTER: "utter_thanks_promoter",
    groups.PASSIVE: "utter_thanks_passive",
    groups.DETRACTOR: "utter_thanks_detractor",
}
THANKS_NO_SCORE = "utter_thanks_neutral"
THANKS_DETRACTOR_CONTACT = "utter_thanks_detractor_contact"
RECOMMEND = "utter_recommend"  # takes {review_url}

# --- employees (domain/employee.yml) ----------------------------------------------
EMPLOYEE_INTRO = "utter_employee_intro"
EMPLOYEE_LINK_INVALID = "utter_employee_link_invalid"
EMPLOYEE_WHY = "utter_employee_why"
THANKS_EMPLOYEE = "utter_thanks_employee"
TIP = "utter_tip"  # takes {tip}


def all_names() -> set[str]:
    """Every response name defined above (the upper-case names), mappings included."""
    names: set[str] = set()
    for key, value in globals().items():
        if not key.isupper():
            continue
        names.update(value.values() if isinstance(value, dict) else [value])
    return names


# --- erasure on request (actions/privacy.py) -------------------------------------
ERASE_DONE = "utter_erase_done"


# --- the closed loop (actions/closed_loop.py, domain/closed_loop.yml) ------------
CASE_REPLY_THANKS = "utter_case_reply_thanks"
WINBACK_QUESTION = "utter_winback_question"
# The thanks after the win-back score; WINBACK_LOW for a detractor's score
# (0-6: the case reopens).
WINBACK_THANKS = "utter_winback_thanks"
WINBACK_LOW = "utter_winback_sorry"
WINBACK_SKIPPED = "utter_winback_skipped"
