"""Parse a Polish answer to a yes/no question ("Czy to pomogło?").

    >>> parse_yes_no("Tak, dziękuję")
    True
    >>> parse_yes_no("nie pomogło")
    False
    >>> parse_yes_no("nie wiem")  # unclear -> None

Standard library only (shared by the bot and analytics).

How it works: the text is folded (lowercase, no diacritics, repeated letters
squeezed: "taaak" -> "tak"), fixed phrases are replaced by a YES / NO marker
or removed when they only express doubt ("nie wiem"), then the remaining
words are read one by one:

- a yes-word ("tak", "jasne", "pomogło", ...) is a YES signal,
- "nie" is a NO signal and cancels the yes-word right after it
  ("nie pomogło", "nie chcę", "nie dzwońcie"),
- an intensifier followed by "(że) nie" is part of the NO ("jasne, że nie").

One kind of signal -> that answer; both kinds (mixed, "tak i nie") or none
(unclear) -> None.  A decisive word wins over a doubt: "nie wiem, raczej nie"
is False.
"""

from __future__ import annotations

import re

from nps.text import fold, squeeze

_YES, _NO = "__yes__", "__no__"

# Phrases, folded and squeezed, checked before single words (longest first).
_PHRASES: dict[str, str | None] = {
    # yes, although they contain "nie"
    "czemu nie": _YES,
    "czemu by nie": _YES,
    "dlaczego nie": _YES,
    "dlaczego by nie": _YES,
    "nie ma sprawy": _YES,
    "nie ma problemu": _YES,
    "nie mam nic przeciwko": _YES,
    "nie widze przeszkod": _YES,
    "nie inaczej": _YES,
    "why not": _YES,
    # yes
    "moze byc": _YES,
    "niech bedzie": _YES,
    "jak najbardziej": _YES,
    "prosze bardzo": _YES,
    "z przyjemnoscia": _YES,
    "of course": _YES,
    "no tak": _YES,
    "da sie": _YES,
    "udalo sie": _YES,
    "tak jest": _YES,
    "raczej tak niz nie": _YES,
    "raczej nie niz tak": _NO,
    # no, although they contain a yes-word
    "nie udalo sie": _NO,
    "nie za bardzo": _NO,
    "nie bardzo": _NO,
    "nie do konca": _NO,
    "w zadnym wypadku": _NO,
    "w zadnym razie": _NO,
    "nie ma potrzeby": _NO,
    "nie ma mowy": _NO,
    "no way": _NO,
    "szkoda czasu": _NO,
    "nie tym razem": _NO,
    # doubt: neutral, removed so their "nie" is not read as a no
    "sam nie wiem": None,
    "sama nie wiem": None,
    "nie wiem": None,
    "nie jestem pewien": None,
    "nie jestem pewna": None,
    "nie jestem pewny": None,
    "nie jestem przekonany": None,
    "nie jestem przekonana": None,
    "trudno powiedziec": None,
    "ciezko powiedziec": None,
    "to zalezy": None,
    "zalezy": None,
    "nie mam zdania": None,
    "nie pamietam": None,
    "nie rozumiem": None,
}

_YES_WORDS = {
    "tak",
    "jasne",
    "pewnie",
    "oczywiscie",
    "ok",
    "okej",
    "okey",
    "okay",
    "oki",
    "okejka",
    "chetnie",
    "pomoglo",
    "pomogla",
    "pomogl",
    "zgoda",
    "zgadzam",
    "dobrze",
    "dobra",
    "spoko",
    "zdecydowanie",
    "absolutnie",
    "prosze",
    "poprosze",
    "dzwoncie",
    "zadzwoncie",
    "dzwonic",
    "zadzwonic",
    "kontaktujcie",
    "skontaktujcie",
    "piszcie",
    "napiszcie",
    "mozecie",
    "moge",
    "dziala",
    "zadziala",
    "zadzialalo",
    "dzialalo",
    "rozwiazane",
    "rozwiazany",
    "rozwiazal",
    "rozwiazalo",
    "super",
    "swietnie",
    "yes",
    "yep",
    "yeah",
    "sure",
    "chce",
    "chcialbym",
    "chcialabym",
    "wyrazam",
    "potwierdzam",
    "owszem",
    "naturalnie",
    "dawaj",
    "dawajcie",
    "pewka",
    "jasna",
    "mhm",
    "aha",
    "tia",
    "ta",
    "ja",
    "si",
    "da",
    "pomocne",
    "pewno",
}
_NO_WORDS = {
    "nie",
    "nope",
    "nah",
    "niestety",
    "nigdy",
    "wcale",
    "odmawiam",
    "niekoniecznie",
    "nein",
    "niet",
    "bynajmniej",
}
# Only counted when they are the whole answer ("ta" is also "this").
_WHOLE_ANSWER_ONLY = {"ta", "ja", "aha", "si", "da", "dobra", "mozecie", "moge"}
# Words that only strengthen what follows: "jasne, że nie" is a no.
_INTENSIFIERS = {
    "jasne",
    "pewnie",
    "oczywiscie",
    "absolutnie",
    "zdecydowanie",
    "raczej",
    "chyba",
    "no",
    "na",
    "pewno",
    "ze",
}

_EMOJI = {
    "👍": " tak ",
    "👌": " tak ",
    "✅": " tak ",
    "✔": " tak ",
    "🙆": " tak ",
    "👎": " nie ",
    "❌": " nie ",
    "✖": " nie ",
    "🙅": " nie ",
    "⛔": " nie ",
}


def _emoji_as_words(text: str) -> str:
    """ "👍" -> "tak", "👎" -> "nie": read like the words they stand for."""
    for emoji, word in _EMOJI.items():
        text = text.replace(emoji, word)
    return text


_BOUNDARY = "|"  # end of a clause: punctuation, "ale"


def _words(text: str) -> list[str]:
    """Words with repeated letters squeezed ("niee" -> "nie", "takk" -> "tak"),
    and a boundary marker for each clause-ending punctuation mark."""
    out = []
    for tok in re.findall(r"[^\W\d_]+|[,.;:!?()\-]", text):
        if not tok[0].isalpha() or tok == "ale":
            out.append(_BOUNDARY)
        else:
            out.append(squeeze(tok))
    return out


# The phrases as word lists, longest first, split once (not per word read).
_PHRASE_PARTS = sorted(
    ((p.split(), marker) for p, marker in _PHRASES.items()), key=lambda e: -len(e[0])
)


def _replace_phrases(words: list[str]) -> list[str]:
    """Replace fixed phrases by a YES/NO marker; drop phrases of doubt.

    Linear in the number of words (each position tries each phrase once).
    """
    out: list[str] = []
    i = 0
    while i < len(words):
        for parts, marker in _PHRASE_PARTS:
            if words[i : i + len(parts)] == parts:
                if marker is not None:
                    out.append(marker)
                i += len(parts)
                break
        else:
            out.append(words[i])
            i += 1
    return out


def _signals(words: list[str]) -> tuple[bool, bool]:
    """Read the words left to right; return (said yes, said no)."""
    yes = no = False
    whole = len([w for w in words if w != _BOUNDARY]) == 1
    negated = False  # inside "nie ..." up to the end of the clause
    neutral = False  # inside "czy ..." (an echoed question: "nie wiem czy pomogło")
    for i, w in enumerate(words):
        ahead = [x for x in words[i + 1 : i + 5] if x != _BOUNDARY] + ["", ""]
        nxt, nxt2 = ahead[0], ahead[1]
        if w == _BOUNDARY:
            negated = neutral = False
        elif neutral:
            continue
        elif w == "czy":
            neutral = True
        elif w == _YES:
            yes = True
        elif w == _NO:
            no = True
        elif w in _NO_WORDS:
            # "nie pomogło", "nie chcę żeby dzwonić": the yes-words that
            # follow in the same clause are negated.
            no = negated = True
        elif w in _INTENSIFIERS and (nxt == "nie" or (nxt == "ze" and nxt2 in ("nie", "tak"))):
            pass  # "jasne że nie", "pewnie że tak": the next word decides
        elif w in _YES_WORDS and not negated and (whole or w not in _WHOLE_ANSWER_ONLY):
            yes = True
    return yes, no


def parse_yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when unclear or mixed."""
    words = _replace_phrases(_words(fold(_emoji_as_words(text or ""))))
    yes, no = _signals(words)
    if yes == no:
        return None  # neither, or both ("tak i nie")
    return yes
