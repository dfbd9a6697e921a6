"""The score parser's vocabulary (``nps/score.py``), kept apart from its logic.

Every entry is in folded form (``nps.text.fold``: lower case, no
diacritics, "ł" -> "l"), because the parser compares folded tokens. Word
lists are written as whitespace-separated text so a linguist can scan them;
a word listed twice in one table is an error at import time.
"""

from __future__ import annotations


def _split(text: str) -> list[str]:
    entries = text.split()
    repeated = sorted({w for w in entries if entries.count(w) > 1})
    if repeated:
        raise ValueError(f"listed twice in one score table: {', '.join(repeated)}")
    return entries


def _table(text: str) -> frozenset[str]:
    """A set of words from whitespace-separated text."""
    return frozenset(_split(text))


def _prefixes(text: str) -> tuple[str, ...]:
    """Word beginnings, for ``str.startswith``."""
    return tuple(_split(text))


def _phrases(*phrases: str) -> tuple[tuple[str, ...], ...]:
    """Multi-word phrases as word tuples, in the given order."""
    return tuple(tuple(phrase.split()) for phrase in phrases)


# Cardinal number words, nominative (what people type as an answer).
NUMBER_WORDS: dict[str, int] = {
    "zero": 0,
    "jeden": 1,
    "jedna": 1,
    "jedno": 1,
    "dwa": 2,
    "dwie": 2,
    "trzy": 3,
    "cztery": 4,
    "piec": 5,
    "szesc": 6,
    "siedem": 7,
    "osiem": 8,
    "dziewiec": 9,
    "dziesiec": 10,
    # outside the scale: recognised so they give "out_of_range"
    "jedenascie": 11,
    "dwanascie": 12,
    "trzynascie": 13,
    "czternascie": 14,
    "pietnascie": 15,
    "szesnascie": 16,
    "siedemnascie": 17,
    "osiemnascie": 18,
    "dziewietnascie": 19,
    "dwadziescia": 20,
    "sto": 100,
}


def _inflect(stems: dict[str, int], endings: tuple[str, ...]) -> dict[str, int]:
    """Expand noun stems with case endings: {'osemk': 8} -> osemka, osemke..."""
    return {stem + ending: value for stem, value in stems.items() for ending in endings}


# Grade nouns ("ósemka", "dałbym ósemkę") are always meant as a score.
GRADE_WORDS: dict[str, int] = _inflect(
    {
        "zerowk": 0,
        "jedynk": 1,
        "dwojk": 2,
        "trojk": 3,
        "czwork": 4,
        "piatk": 5,
        "szostk": 6,
        "siodemk": 7,
        "osemk": 8,
        "osiemk": 8,  # "osiemka": a common spelling of "ósemka"
        "dziewiatk": 9,
        "dziesiatk": 10,
        "osemeczk": 8,
        "dziewiateczk": 9,
        "dziesiateczk": 10,
        "dyszk": 10,
        "dyszeczk": 10,
    },
    ("a", "e", "i", "o", "ami"),
)
GRADE_WORDS.update(_inflect({"dych": 10, "dziesion": 10}, ("a", "e", "y", "o")))

# The Polish school scale runs 1-6 (6 "celujący" is the best, 1 "niedostateczny"
# a fail), so a school verdict is not a point on the 0-10 scale: "na piątkę"
# says "very good", which on 0-10 is nearer 8-9 than 5.  nps/score.py reads
# these as a school grade and the bot asks for 0-10 (see its docstring).
# Words that are only ever school marks (slang and the formal names), folded,
# with their case forms.  "dwójka" / "piątka" are not here: a bare grade noun
# stays a 0-10 number.  "koło" is not here either: "koło 8" means "about 8".
SCHOOL_WORDS: dict[str, int] = {
    **dict.fromkeys("pala pale paly lufa lufe lufy lufie gala gale galy kol".split(), 1),
    **dict.fromkeys("niedostateczny niedostateczna niedostateczne ndst".split(), 1),
    **dict.fromkeys("dwoja dwoje dwoi dopuszczajacy dopuszczajaca dopuszczajace".split(), 2),
    **dict.fromkeys("mierny mierna mierne".split(), 2),
    **dict.fromkeys("troja troje troi dostateczny dostateczna dostateczne dst".split(), 3),
    **dict.fromkeys("czwora czwore czwory".split(), 4),
    "bdb": 5,
    **dict.fromkeys("celujacy celujaca celujace celujaco celujacym".split(), 6),
}
# After "na" these are idioms, not marks ("robią wszystko na pałę" = any old
# how; "na lufę" = a shot of vodka), unless a score cue comes first
# ("zasługujecie na pałę").
SCHOOL_NA_IDIOMS = _table("pale lufe")
# A plus or minus after a mark is school notation ("piątka z plusem", "5+").
SCHOOL_SIGN_WORDS = _table("plusem minusem plusikiem minusikiem")
SCHOOL_SIGNS = _table("plus minus")
# "wszystko (było) na 5": the school idiom even with a digit.
SCHOOL_WHOLE = _table("wszystko calosc")

# A top of another scale after "/", "na", "z": "5/5", "4 na 5", "80/100".
OTHER_SCALE_TOPS = _table("5 100 piec pieciu sto stu")
# A count of stars is a 5-star rating, not 0-10, when it is the answer.
STAR_PREFIXES = _prefixes("gwiazd")

# Words that move a number off itself: "prawie 10" (almost) is not 10.
SHIFT_WORDS = _table("prawie niemal niemalze blisko ponad powyzej ponizej")
# ... and the comparatives before "niż": "więcej niż 8", "mniej niż 5".
SHIFT_BEFORE_THAN = _table("wiecej mniej wyzej nizej")
# Words that may stand between "nie" and the number it negates ("nie dałbym
# wam 10"); cue words pass too.  Not "no" / "tak": "nie no 10" is "nah, 10".
NEGATION_THROUGH = _table(
    "wam im ci bym ja sobie az nawet u ode mnie was do konca cale calkiem zupelnie"
)
# After a number, "dla" / "za" name what it rates: two of them with different
# numbers ("10 dla kuriera, 5 dla sklepu") are scores of parts, not one score.
ASPECT_LINKS = _table("dla za")
# Words that date a score to now: "kiedyś 10, teraz 5" is 5.
NOW_WORDS = _table("teraz obecnie aktualnie dzis dzisiaj")

# Slang for the top of the scale: a score only in a clear context.
SLANG_TEN = _table(
    """
    max maks maxa maksa maximum maksimum maksymalnie maxymalnie full fula fulla
    """
)

# Denominators: "8/10", "8 na 10", "osiem z dziesięciu".
DENOMINATORS = _table("10 dziesiec dziesieciu")
DENOMINATOR_LINKS = _table("/ na z")

# "8 pkt", "8 punktów"
POINT_WORDS = _table("pkt punkt punkty punktow punktach pkty")

# Suffixes glued to digits that make a grade noun: "8ka", "10tka".
GRADE_SUFFIXES = _table("ka ke ki tka tke tki ak")

# Words right before a number that mark it as the score ("dałbym 7").
CUE_WORDS = _table(
    """
    dalbym dalabym dal dala dalem dalam dam daje dajemy dac dajesz ocena ocene oceny oceniam
    oceniamy ocenie ocenilbym ocenilabym ocenilem ocenilam ocenil ocenila stawiam postawie
    postawilbym postawilabym wystawiam wystawie wystawilbym wystawilabym wynik nps punktacja
    score na mocne mocna solidne solidna slabe slaba okragle rowne pelne mnie dostajecie macie
    zaslugujecie zasluguje zaslugujesz odpowiedz
    """
)

# Words that may sit between a cue and the number ("dałbym tak z 8").
SOFT_WORDS = _table(
    """
    to tak z ze jakies gdzies okolo chyba pewnie raczej spokojnie tylko nawet no takie takiego
    jakos cos moze sobie wam im bym ja mniej wiecej tu tutaj teraz dzis szczerze ode u dla
    zdecydowanie moja bez wahania wasz waszej firmie firmy sklepowi sklepu az kolo obecnie
    aktualnie dzisiaj
    """
)

# Words that may precede a number at the start of a message without making
# it "mid-sentence" ("no myślę że 8", "hmm, 7").
START_FILLERS = (
    CUE_WORDS
    | SOFT_WORDS
    | _table(
        """
        hmm hm h m e y eh noo ok okej okey spoko dobra dobrze oczywiscie mysle sadze uwazam
        wydaje mi sie wiec ogolnie generalnie w skali skala mowiac powiedzmy niech bedzie a i
        mhm oceniajac calosciowo calosc ogolem jesli chodzi o
        """
    )
)

# A number right after one of these is an id, a time, a size, not a score.
BLOCKERS_BEFORE = _table(
    """
    nr numer numerem rozmiar rozm o godz godzina godzinie kod pin tel telefon zamowienie
    zamowienia zamowieniu paragon faktura linia linii autobus tramwaj kasa kasy kasie stanowisko
    bramka # + wersja iphone model pietro pietrze alejka regal
    """
)

# Unit words after a number make it a quantity.  Exact words ...
UNIT_WORDS = _table(
    """
    x h m g l km kg cm mm ml min sek razy zl zlote zlotych zloty zlotowki pln gr groszy eur euro
    usd dolarow tys procent proc pary par lat lata latach rok roku doby dob dobe dni dnia dniach
    dzien dniu noc nocy mln gb
    """
)
# ... and word prefixes (folded).
UNIT_PREFIXES = _prefixes(
    """
    tydz tygod godzin minut sekund miesi mies kwadrans weekend paczk paczek przesyl zamowien produkt
    rzecz osob ludzi dzieci gwiazd telefon mail wiadomos reklamacj zwrot kurier pracownik klient
    pozycj artykul sztuk szt kas sklep metr kilo litr dolar zlot tysi miliard milion procent
    kilometr dzwonk rozmow prob lat raty rat faktur paragon butel opakow kartek karton pudel
    pudl towar zestaw kolor rozmiar numer przystank pieter pietr kolejk stopni
    """
)
# Symbols after a number that make it a quantity.
UNIT_SYMBOLS = _table("% € $ ° £")
# Adjectives that may sit between a number and its unit ("3 pełne dni").
UNIT_ADJECTIVES = _table(
    """
    pelne pelnych dlugie dlugich cale calych robocze roboczych kolejne kolejnych nastepne
    ostatnie ostatnich rozne roznych dodatkowe inne innych
    """
)

# Words that may follow a number WORD without making it a counted quantity.
# ("osiem bo szybko" is a score; "jedna paczka" / "zero problemów" are not.)
WORD_NUMBER_FOLLOWERS = _table(
    """
    bo poniewaz gdyz bowiem ale i a no na z tak nie albo lub czy moze do dla za od to jak raczej
    chyba jednak mimo choc chociaz ze bez w polecam oczywiscie zdecydowanie pewnie spokojnie
    dziekuje dzieki jest bylo bedzie ode u wiec punkt punkty punktow pkt oraz ewentualnie sorry
    przepraszam serio naprawde mysle sadze
    """
)

# Words/punctuation that may join two numbers into alternatives ("7 albo 8").
ALT_WORDS = _table(
    """
    albo lub czy moze ewentualnie ew badz wlasciwie raczej nawet or a i do jednak w sumie
    zreszta nie tez no max maks ostatecznie ale
    """
)
ALT_PUNCT = _table(", - / . ? ! ( ) ;")  # "…" folds to "..."

# Remainder trimming.  After a score: joining words ("3, bo ...").
JOINERS_AFTER_SCORE = _table(
    """
    bo poniewaz gdyz bowiem ze ale a i no to wiec dlatego oraz albo lub czy jednak pkt punkt
    punkty punktow tak moze nawet wlasciwie raczej ewentualnie
    """
)
# Before a score: cues and fillers ("no myślę że tak z 8", "ocena: 6").
CUES_BEFORE_SCORE = START_FILLERS | _table(
    """
    ale minus od do miedzy pomiedzy dlatego zatem stad totez jak sumie koncowa ogolna laczna
    """
)
# A run after the score made only of these carries nothing ("dychę daję",
# "8 bym dał", "10 i tyle").
TRAILING_FILLERS = (
    CUES_BEFORE_SCORE
    | JOINERS_AFTER_SCORE
    | _table(
        """
        bym dal dala dalem dalam was wam tyle wszystko ode mnie dla ocena moja powiedzial
        powiedziala powiedzialbym powiedzialabym jasne wiadomo haha hahaha hehe heh xd lol
        """
    )
)
# Phrases that on their own carry nothing ("nie wiem, może 7" -> "").
# Longest first: the remainder drops the first one that matches.
FILLER_PHRASES = _phrases(
    "sam nie wiem",
    "sama nie wiem",
    "nie wiem",
    "trudno powiedziec",
    "ciezko powiedziec",
    "nie jestem pewien",
    "nie jestem pewna",
    "wydaje mi sie",
    "moim zdaniem",
    "jesli chodzi o",
    "w skali",
)
# Joining phrases after a score, dropped wherever they stand:
# "8 ze względu na ceny" -> "ceny".
JOINING_PHRASES = _phrases("ze wzgledu na", "z uwagi na", "z powodu", "dlatego ze")

# Words after "max" / "full" that still leave it the whole answer
# ("full, polecam", "max jak zawsze").
SLANG_FOLLOWERS = _table("polecam oczywiscie zdecydowanie jak bez jasne pewnie wiadomo jasna")
