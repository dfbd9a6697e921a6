"""Text normalisation shared by every parser and matcher.

Customers type Polish with and without diacritics ("dostawa byla szybka"),
so every comparison is made on a folded form: lower case, diacritics removed,
whitespace collapsed. The original text is always kept for storage.
"""

from __future__ import annotations

import re
import unicodedata

# "ł" has no Unicode decomposition, so NFKD alone would keep it.
_EXTRA_FOLDS = str.maketrans({"ł": "l", "Ł": "l"})
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case, strip diacritics and collapse whitespace."""
    text = (text or "").translate(_EXTRA_FOLDS).lower()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split())


def words(text: str) -> list[str]:
    """The folded words of a text, punctuation dropped."""
    return _WORD.findall(fold(text))
