"""Masking what identifies a person in customers' words that leave the
tracker store as files (the trainers' inbox, analytics.inbox).

Standard library only: it runs in both environments. The phone number
pattern is the one storage/log_privacy.py redacts from the logs (9 to 15
digits, optional plus, spaces or dashes between); besides it, e-mail
addresses and any other run of 6 or more digits (an order, card or account
number) are masked. A score ("8/10"), a date ("12.05") or a price ("149 zł")
stays as written.

The marks have no square or curly brackets, which Rasa's NLU format reads
as entity markup.
"""

from __future__ import annotations

import re

EMAIL_MARK = "<e-mail>"
PHONE_MARK = "<telefon>"
DIGITS_MARK = "<numer>"
MARKS = (EMAIL_MARK, PHONE_MARK, DIGITS_MARK)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# storage/log_privacy.py's _PHONE: not part of a longer number or a decimal.
_PHONE = re.compile(r"(?<![\w.+#])\+?\d(?:[ \-]?\d){8,14}(?![\w.])")
_DIGITS = re.compile(r"\d{6,}")


def mask(text: str) -> str:
    """The text with e-mail addresses, phone numbers and long digit runs masked."""
    text = _EMAIL.sub(EMAIL_MARK, text or "")
    text = _PHONE.sub(PHONE_MARK, text)
    return _DIGITS.sub(DIGITS_MARK, text)


def mark_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every mark in a masked text: words a matcher must not
    read ("<telefon>" names no phone complaint)."""
    spans = []
    for mark in MARKS:
        at = text.find(mark)
        while at >= 0:
            spans.append((at, at + len(mark)))
            at = text.find(mark, at + 1)
    return sorted(spans)
