"""Text normalisation shared by every parser and matcher.

Customers type Polish with and without diacritics ("dostawa byla szybka"),
so every comparison is made on a folded form: lower case, diacritics removed,
typographic dashes and invisible characters normalised. The original text is
always kept for storage.

``fold_char`` is the one per-character rule. ``fold`` applies it to a whole
text; the score parser applies it character by character because it needs a
map from each folded character back to the original (its remainder is cut
from what the customer typed).
"""

from __future__ import annotations

import re
import unicodedata

_SPECIAL = {
    # "ł" has no Unicode decomposition, so NFKD alone would keep it.
    "ł": "l",
    "Ł": "l",
    "🔟": " 10 ",  # spaced, so "🔟🔟" is 10 twice, not 1010
    "½": ",5",
    # Emoji joiners and selectors: "8️⃣" is "8" + U+FE0F + U+20E3.
    "\ufe0f": "",
    "\u20e3": "",
    "\u200d": "",
    "\u200b": "",
    # Phones and word processors turn "-" into one of these.
    "–": "-",
    "—": "-",
    "−": "-",
    "‐": "-",
    "‑": "-",
    "\u00a0": " ",
}
_WORD = re.compile(r"[a-z0-9]+")
_REPEATS = re.compile(r"(.)\1+")


def fold_char(ch: str) -> str:
    """One character lower-cased, without diacritics ('Ę' -> 'e').

    May return "" (a dropped mark) or several characters ("🔟" -> " 10 ").
    """
    special = _SPECIAL.get(ch)
    if special is not None:
        return special
    decomposed = unicodedata.normalize("NFKD", ch.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Every character folded, whitespace collapsed."""
    return " ".join("".join(fold_char(ch) for ch in text or "").split())


def squeeze(word: str) -> str:
    """Collapse repeated characters: 'taaak' -> 'tak', 'maxxx' -> 'max'."""
    return _REPEATS.sub(r"\1", word)


def words(text: str) -> list[str]:
    """The folded words of a text, punctuation dropped."""
    return _WORD.findall(fold(text))


def cap(text: str, limit: int) -> tuple[str, bool]:
    """The text cut to at most `limit` characters, at the last space of the
    final fifth when there is one, and whether anything was cut."""
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    space = cut.rfind(" ", limit - limit // 5)
    return (cut[:space] if space > 0 else cut).rstrip(), True
