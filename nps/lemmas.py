"""Polish lemmas and negation scope for the NLU and the lexicon.

Lemmas come from the Polish lookup tables of spacy-lookups-data (installed in
both environments; nothing is downloaded). They are read straight from the
package's gzipped JSON files, without spaCy, so this module runs in the bot
and in the analytics environment alike.

Customers drop diacritics ("paczke"), so lookups are made on folded forms
(``nps.text.fold``) and every lemma is returned folded ("paczka", "dostarczyc").

The tables hold 3.7 million forms: parsing them takes about 7 s and 1 GB of
memory, too much for every start of the bot. The first use therefore builds a
compact index (sorted forms in one byte string, binary search; about 30-60 s,
once) and saves it in a cache file; later processes load it in about 0.2 s
and hold about 80 MB. See ``_cache_paths`` for where it goes, ``warm`` to
build it ahead (an image build, a deploy).

The tables have no frequencies, and folding makes more forms collide. When
several lemmas share one folded form, the first of these wins (``_RANKS``),
which refines the order of analytics/topics.py (noun, adj, verb, adv):

1. the closed classes (auxiliaries, pronouns, numerals, prepositions), and
   the past tense in "-ło" ("przestało" is "przestac", not the adjective);
2. an inflected adjective ("mila" -> "mily", not the noun "mila");
3. a word that is itself a noun lemma stays as it is ("dostawa" must not
   become the verb "dostawac", nor "paczka" the noun "paczek");
4. an inflected noun, then an adjective lemma, then verbs, then adverbs.

Within one rank the table's first entry wins, and proper names come after
every common word ("kasie" is "kasa", not "Kasia"). Before the ranking,
``_OVERRIDES`` fixes the commonest words it gets wrong ("mam" is "miec", not
"mama"). A word typed with diacritics whose own entry disagrees with its
folded form's winner gets its own entry ("lubię" is "lubic", though "lubie"
folded is the rare noun "łubie"): about 18,000 such forms.
"""

from __future__ import annotations

import array
import functools
import gzip
import json
import os
import re
import struct
import sys
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nps.text import fold, fold_char, squeeze

_FORMAT = 4  # bump when the index's layout or ranking changes
_MAGIC = b"NPSLEM"

# Words the tables get wrong for our texts. The tables hold every reading of
# a form but no frequencies, and the ranking (_RANKS) picks a rare noun or
# adjective reading for some of the commonest words ("mam" -> "mama", "ale"
# -> "alo", "tak" -> "taka", "była" -> "były" the adjective). Function words
# stay as they are; frequent verb forms get their verb.
_KEEP = """
a ale albo aby bo by bardzo bez brak chyba co czy czyli dla do dobrze gdy gdzie i ile
jak jednak jeszcze juz kiedy lecz lub mimo moze mozna na nad nadal nawet nie niz o od
ok okej oraz po pod poza przez przy raczej razie sie tak takze tez to troche tylko u
w wiec wlasnie wtedy z za zawsze ze zbyt znowu zreszta super spoko dzieki
ani zeby skoro miedzy byle osiem
"""
_VERB_FORMS = {
    "byc": "byl byla bylo byly byli bylam bylem bylismy bylysmy bedzie beda jest sa",
    "miec": "mam masz ma mamy macie maja mial miala mialo mieli mialam mialem",
    "moc": "moge mozesz mozemy mozecie moga mogl mogla moglo mogli moglam moglem",
    "prosic": "prosze prosimy",
    "pisac": "pisze piszesz piszemy piszecie pisza",
    "wolec": "wole wolisz woli wolimy wolicie wola",
    "dostac": "dostalem dostalam dostal dostala dostali dostalismy",
    "czekac": "czekalem czekalam czekal czekala czekali",
    "udac": "udalo",
    "znac": "znam znasz zna znamy znacie znaja",
}
_OVERRIDES = {w: w for w in _KEEP.split()} | {
    form: verb for verb, forms in _VERB_FORMS.items() for form in forms.split()
}
_OVERRIDES |= {
    "swietnie": "swietny",
    "gorzej": "zly",
    "buty": "but",
    "reki": "reka",
    "tyle": "tyle",
    "czacie": "czat",
    "te": "ten",
    "dziala": "dzialac",  # not the cannon ("działo")
    "dzialaja": "dzialac",
    "przyszla": "przyjsc",
    "przyszlo": "przyjsc",
    "przyszedl": "przyjsc",
    "przyszly": "przyjsc",
}

# (table, "key" = an inflected form maps to its lemma | "ident" = the lemma
# itself); earlier wins. The closed classes come first.
_RANKS = (
    ("aux", "key"),
    ("pron", "key"),
    ("num", "key"),
    ("adp", "key"),
    # "przestało", "rozpadło się", "wytrzymało": the past tense, not the
    # rare adjectives "przestały", "rozpadły" the adjective rank would pick.
    ("verb", "past_neuter"),
    ("adj", "key"),
    ("noun", "ident"),
    ("noun", "key"),
    ("adj", "ident"),
    ("verb", "key"),
    ("verb", "ident"),
    ("adv", "key"),
    ("adv", "ident"),
)


def _tables_dir() -> Path:
    import spacy_lookups_data

    return Path(spacy_lookups_data.__file__).resolve().parent / "data"


def _tables_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spacy-lookups-data")
    except PackageNotFoundError:  # pragma: no cover - imported from a source tree
        return "unknown"


def _read_table(name: str) -> dict[str, str]:
    with gzip.open(_tables_dir() / f"pl_lemma_lookup_{name}.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


class _FoldMap(dict):
    """str.translate table doing ``fold`` one character at a time, each
    character worked out once: folding 3.7 million forms with ``fold`` itself
    takes minutes, this takes seconds."""

    def __missing__(self, code: int) -> str:
        self[code] = folded = fold_char(chr(code))
        return folded


def _fast_fold(text: str, table: _FoldMap) -> str:
    folded = text.translate(table)
    return " ".join(folded.split()) if " " in folded else folded


def _candidates() -> Iterator[tuple[str, str, str]]:
    """(form in lower case, folded form, folded lemma), best rank first.
    Proper names (capitalised lemmas: "Kasie" -> "Kasia", "Kąś") come after
    every common word, so "kasie" is "kasa"."""
    tables: dict[str, dict[str, str]] = {}
    fold_map = _FoldMap()
    names: list[tuple[str, str, str]] = []
    for name, kind in _RANKS:
        if name not in tables:
            tables[name] = _read_table(name)
        table = tables[name]
        if kind == "key":
            pairs = table.items()
        elif kind == "past_neuter":
            pairs = ((form, lemma) for form, lemma in table.items() if form.endswith("ło"))
        else:
            pairs = ((lemma, lemma) for lemma in table.values())
        for form, lemma in pairs:
            found = form.lower(), _fast_fold(form, fold_map), _fast_fold(lemma, fold_map)
            if lemma[:1].isupper():
                names.append(found)
            else:
                yield found
        # Once a table's last rank is used it can go: one large table at a time.
        if all(n != name for n, _ in _RANKS[_RANKS.index((name, kind)) + 1 :]):
            del tables[name]
    yield from names


class _Index:
    """Form -> folded lemma, as sorted forms in one byte string (binary
    search): a dict of millions of strings would take 5-10 times the memory."""

    def __init__(self, blob: bytes, offsets: array.array, lemma_ids: array.array, lemmas: list):
        self.blob = blob  # forms, each followed by b"\n"
        self.offsets = offsets  # start of each form; one extra at the end
        self.lemma_ids = lemma_ids  # 0 = the form is its own lemma
        self.lemmas = lemmas

    def __len__(self) -> int:
        return len(self.lemma_ids)

    def get(self, form: str) -> str | None:
        key = form.encode("utf-8")
        blob, offsets = self.blob, self.offsets
        lo, hi = 0, len(self.lemma_ids)
        while lo < hi:
            mid = (lo + hi) // 2
            found = blob[offsets[mid] : offsets[mid + 1] - 1]
            if found < key:
                lo = mid + 1
            elif found > key:
                hi = mid
            else:
                lemma_id = self.lemma_ids[mid]
                return form if lemma_id == 0 else self.lemmas[lemma_id]
        return None

    @classmethod
    def from_dict(cls, best: dict[str, str]) -> _Index:
        lemmas = [""]
        lemma_ids_of: dict[str, int] = {}
        keys = sorted(best, key=lambda f: f.encode("utf-8"))
        offsets, lemma_ids, parts, at = array.array("I"), array.array("I"), [], 0
        for form in keys:
            lemma = best[form]
            if lemma == form:
                lemma_ids.append(0)
            else:
                if lemma not in lemma_ids_of:
                    lemma_ids_of[lemma] = len(lemmas)
                    lemmas.append(lemma)
                lemma_ids.append(lemma_ids_of[lemma])
            encoded = form.encode("utf-8") + b"\n"
            offsets.append(at)
            parts.append(encoded)
            at += len(encoded)
        offsets.append(at)
        return cls(b"".join(parts), offsets, lemma_ids, lemmas)

    _HEADER = "<QQQ"

    def to_bytes(self) -> bytes:
        lemmas = "\n".join(self.lemmas).encode("utf-8")
        header = struct.pack(self._HEADER, len(self.blob), len(self), len(lemmas))
        return b"".join(
            [header, self.blob, self.offsets.tobytes(), self.lemma_ids.tobytes(), lemmas]
        )

    @classmethod
    def from_bytes(cls, data: bytes, at: int) -> tuple[_Index, int]:
        n_blob, n_forms, n_lemmas = struct.unpack_from(cls._HEADER, data, at)
        at += struct.calcsize(cls._HEADER)
        blob = data[at : at + n_blob]
        at += n_blob
        offsets = array.array("I")
        offsets.frombytes(data[at : at + 4 * (n_forms + 1)])
        at += 4 * (n_forms + 1)
        lemma_ids = array.array("I")
        lemma_ids.frombytes(data[at : at + 4 * n_forms])
        at += 4 * n_forms
        lemmas = data[at : at + n_lemmas].decode("utf-8").split("\n")
        at += n_lemmas
        if len(blob) != n_blob or len(lemma_ids) != n_forms or len(offsets) != n_forms + 1:
            raise ValueError("truncated lemma index")
        return cls(blob, offsets, lemma_ids, lemmas), at


@dataclass(frozen=True)
class _Lemmas:
    """The folded index, and the forms typed with diacritics whose lemma the
    folded index gets wrong: "lubię" is "lubic", but folded "lubie" is also
    the rare noun "łubie", which ranks first. A few percent of the forms."""

    folded: _Index
    exact: _Index

    @classmethod
    def build(cls) -> _Lemmas:
        folded: dict[str, str] = {}
        exact: dict[str, tuple[str, str]] = {}
        for form, folded_form, lemma in _candidates():
            if not folded_form or "\n" in form:
                continue
            folded.setdefault(folded_form, lemma)
            if form != folded_form:
                exact.setdefault(form, (folded_form, lemma))
        exceptions = {f: lem for f, (ff, lem) in exact.items() if folded[ff] != lem}
        del exact
        return cls(_Index.from_dict(folded), _Index.from_dict(exceptions))

    def dump(self, path: Path) -> None:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(struct.pack("<6sI", _MAGIC, _FORMAT))
            f.write(self.folded.to_bytes())
            f.write(self.exact.to_bytes())
        os.replace(tmp, path)  # atomic: a parallel process never reads half a file

    @classmethod
    def load(cls, path: Path) -> _Lemmas:
        data = path.read_bytes()
        magic, fmt = struct.unpack_from("<6sI", data)
        if magic != _MAGIC or fmt != _FORMAT:
            raise ValueError("not a lemma index of this format")
        folded, at = _Index.from_bytes(data, struct.calcsize("<6sI"))
        exact, at = _Index.from_bytes(data, at)
        if at != len(data):
            raise ValueError("lemma index of the wrong length")
        return cls(folded, exact)


def _cache_paths() -> list[Path]:
    """Where the index may be cached, the first readable one used: beside the
    tables, in the environment that installed them (``make env`` and the image
    build write it there, so a read-only container never builds it; in
    Kubernetes var/ is an empty volume), then the repository's git-ignored
    var/, then the system's temporary directory. One file per tables version
    and index format."""
    name = f"pl_lemmas-{_tables_version()}-f{_FORMAT}.bin"
    environment = Path(sys.prefix) / "share" / "nps"
    repo_var = Path(__file__).resolve().parent.parent / "var" / "cache"
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return [
        environment / name,
        repo_var / name,
        Path(tempfile.gettempdir()) / f"nps-cache-{uid}" / name,
    ]


@functools.cache
def _lemmas() -> _Lemmas:
    paths = _cache_paths()
    for path in paths:
        try:
            return _Lemmas.load(path)
        except (OSError, ValueError, struct.error):
            continue
    built = _Lemmas.build()
    for path in paths:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            built.dump(path)
            for old in path.parent.glob("pl_lemmas-*.bin"):
                if old != path:  # an index of another tables version or format
                    old.unlink(missing_ok=True)
            break
        except OSError:
            continue  # not writable here: try the next place, or keep it in memory
    return built


def _index() -> _Index:
    return _lemmas().folded


def warm() -> int:
    """Build (or load) the index now; returns the number of forms. For image
    builds and start-up, so the first customer does not wait."""
    return len(_lemmas().folded)


# Lexical negation: "niemiły", "nieuprzejma", "niedostarczona" are lemmas of
# their own ("niemily"), made from the lemma of the rest when the tables
# lack them.
_NEG_PREFIX = "nie"


def _lexical_negation(word: str, index: _Index) -> str | None:
    """ "niemiła" -> "niemily": "nie" + the rest's lemma when that is an
    adjective or participle (lemma in -y/-i). The tables hold some of these
    words with odd lemmas ("niemila" -> "niemil") and most not at all."""
    if not word.startswith(_NEG_PREFIX) or len(word) < len(_NEG_PREFIX) + 4:
        return None
    rest = index.get(word[len(_NEG_PREFIX) :])
    if rest is None or not rest.endswith(("y", "i")):
        return None
    return _NEG_PREFIX + rest


@functools.lru_cache(maxsize=65536)
def _lemma_of_folded(word: str) -> str:
    found = _known(word)
    if found is None:
        squeezed = squeeze(word)  # "suuuper", "pacccka"
        found = _known(squeezed) if squeezed != word else None
    return word if found is None else found


def _known(word: str) -> str | None:
    if word in _OVERRIDES:
        return _OVERRIDES[word]
    index = _index()
    negated = _lexical_negation(word, index)
    if negated is not None:
        return negated
    found = index.get(word)
    if found is not None:
        return found
    # A verb written together with "nie" ("niepolecam"): one lemma of its own.
    if word.startswith(_NEG_PREFIX) and len(word) >= len(_NEG_PREFIX) + 4:
        rest = _OVERRIDES.get(word[len(_NEG_PREFIX) :]) or index.get(word[len(_NEG_PREFIX) :])
        if rest is not None:
            return _NEG_PREFIX + rest
    return None


def lemma(word: str) -> str:
    """The folded lemma of one word, typed with or without diacritics
    ("paczkę", "paczke" -> "paczka"); an unknown word is returned folded."""
    folded = fold(word).replace(" ", "")
    if len(folded) < 2:  # "m", "l", "5": units and digits, not the tables' clitics
        return folded
    if folded not in _OVERRIDES:
        typed = unicodedata.normalize("NFC", word.lower()).strip()
        if typed != folded:
            exact = _exact_lemma(typed)
            if exact is not None:
                return exact
    return _lemma_of_folded(folded)


@functools.lru_cache(maxsize=65536)
def _exact_lemma(typed: str) -> str | None:
    return _lemmas().exact.get(typed)


# ---------------------------------------------------------------- negation


@dataclass(frozen=True)
class Word:
    text: str  # as typed
    start: int  # character offsets into the analysed text
    end: int
    folded: str
    lemma: str
    negated: bool  # inside the scope of a negation word before it


# Words that open a negation scope (folded lemmas and forms). "zaden" is the
# lemma of every form of "żaden".
NEGATORS = frozenset({"nie", "ani", "bez", "brak", "zaden", "nigdy", "nic", "nikt"})
# Words that close it: a contrast starts a new claim ("..., ale nie polecam").
SCOPE_BREAKERS = frozenset({"ale", "a", "jednak", "tylko", "lecz", "natomiast", "choc", "chociaz"})
# A scope runs at most this many words after the negator ("nie było problemu
# z dostawą" is four): past that, the words are usually a new claim.
SCOPE_WORDS = 4

# Letters and digits, with inner hyphens and apostrophes ("e-mail").
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
# Punctuation that ends a clause, and so a negation's scope.
_CLAUSE_END = re.compile(r"[.,;:!?()\[\]\n\u2026\"«»]|\s-\s")


def analyse(text: str) -> list[Word]:
    """The words of `text` with offsets, folded form, lemma, and whether
    each lies in a negation's scope: after "nie", "ani", "bez", "brak",
    "żaden"... until punctuation, a contrast word or SCOPE_WORDS words.
    The negator itself is not negated."""
    words: list[Word] = []
    left = 0  # words still in the open scope
    last_end = 0
    for m in _WORD.finditer(text or ""):
        if _CLAUSE_END.search(text, last_end, m.start()):
            left = 0
        last_end = m.end()
        raw = m.group()
        folded = fold(raw)
        lem = lemma(raw)
        negator = folded in NEGATORS or lem in NEGATORS
        if folded in SCOPE_BREAKERS:
            left = 0
        negated = left > 0 and not negator
        left = SCOPE_WORDS if negator else max(left - 1, 0)
        words.append(Word(raw, m.start(), m.end(), folded, lem, negated))
    return words
