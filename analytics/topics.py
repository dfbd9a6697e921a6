"""Emerging topics: Polish terms over-represented among detractors or
promoters, above all in comments no driver caught, as suggestions for
trainers (new drivers, or examples the NLU misses).

Lemmas come from a blank spaCy `pl` pipeline (its tokenizer and stop words)
and the Polish lemma tables of spacy-lookups-data; nothing is downloaded.
spaCy's own Polish lemmatizer needs part-of-speech tags, which a blank
pipeline has not, so we look each word up in the adjective, noun, verb and
adverb tables in that order (a word that is itself a noun lemma stays as it
is: "dostawa" must not become the verb "dostawać").
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from analytics import stats

TABLE_ORDER = ("noun", "adj", "verb", "adv")
MIN_DOCS = 3  # a term named by fewer respondents is an anecdote, not a topic
Z_MIN = 1.96  # over-represented at the 5% level (two-sided)


def _table_path(name: str) -> Path:
    from spacy.util import registry

    path = Path(str(registry.lookups.get("pl")[f"lemma_lookup_{name}"]))
    return path if path.exists() else path.with_name(path.name + ".gz")


def _read_table(name: str) -> dict:
    import srsly  # spaCy's own (fast) JSON reader

    path = _table_path(name)
    return srsly.read_gzip_json(path) if path.suffix == ".gz" else srsly.read_json(path)


class PolishLemmatizer:
    """Lemmas for the words of our comments. The tables are large (millions
    of forms), so they are read only when unseen words arrive, and only the
    answers for those words are kept."""

    def __init__(self):
        import spacy

        self.nlp = spacy.blank("pl")
        self.stop_words = frozenset(self.nlp.Defaults.stop_words)
        self._lemmas: dict[str, str] = {}
        self._lock = threading.Lock()

    def tokens(self, texts: Iterable[str]) -> list[list[str]]:
        """Lower-case word tokens of each text (letters only, 3+ chars)."""
        out = []
        for doc in self.nlp.tokenizer.pipe(t or "" for t in texts):
            out.append([t.lower_ for t in doc if t.is_alpha and len(t) >= 3])
        return out

    def resolve(self, words: Iterable[str]) -> None:
        with self._lock:
            unseen = {w for w in words if w not in self._lemmas}
            if not unseen:
                return
            keys: dict[str, dict[str, str]] = {}
            idents: dict[str, set] = {}
            # One table in memory at a time: each holds millions of forms,
            # our comments a few thousand words.
            for name in TABLE_ORDER:
                if name in ("verb", "adv") and all(self._early(w, keys, idents) for w in unseen):
                    break
                table = _read_table(name)
                keys[name] = {w: table[w] for w in unseen if w in table}
                idents[name] = {lemma for lemma in table.values() if lemma in unseen}
                del table
            found = {w: self._choose(w, keys, idents) for w in unseen}
            for w in unseen:
                self._lemmas[w] = found.get(w, w)

    # Inflected adjective forms first ("miła" -> "miły", not the noun
    # "miła"), then inflected nouns, then words that already are a noun or
    # adjective lemma, then verbs and adverbs.
    PRIORITY = (
        ("key", "adj"),
        ("key", "noun"),
        ("ident", "noun"),
        ("ident", "adj"),
        ("key", "verb"),
        ("ident", "verb"),
        ("key", "adv"),
        ("ident", "adv"),
    )

    @classmethod
    def _choose(cls, word: str, keys: dict, idents: dict) -> str:
        for kind, name in cls.PRIORITY:
            if kind == "key" and word in keys.get(name, {}):
                return keys[name][word]
            if kind == "ident" and word in idents.get(name, ()):
                return word
        return word

    @staticmethod
    def _early(word: str, keys: dict, idents: dict) -> bool:
        return any(word in keys.get(n, {}) or word in idents.get(n, ()) for n in ("adj", "noun"))

    def lemma(self, word: str) -> str:
        return self._lemmas.get(word, word)

    def terms(self, texts: list[str]) -> list[list[str]]:
        """Content lemmas of each text plus adjacent-lemma pairs ("kasa
        samoobsługowy"), without stop words."""
        token_lists = self.tokens(texts)
        self.resolve({w for tokens in token_lists for w in tokens})
        out = []
        for tokens in token_lists:
            content = [self.lemma(w) for w in tokens if w not in self.stop_words]
            content = [w for w in content if w not in self.stop_words]
            pairs = [f"{a} {b}" for a, b in zip(content, content[1:], strict=False) if a != b]
            out.append(content + pairs)
        return out


TERM_COLUMNS = [
    "term",
    "docs_group",
    "docs_rest",
    "share_group",
    "share_rest",
    "lift",
    "z",
    "uncaught_docs",
]


def over_represented(
    docs: pd.DataFrame, group: str, min_docs: int = MIN_DOCS, z_min: float = Z_MIN
) -> pd.DataFrame:
    """Terms that more of `group`'s respondents use than the others do.

    `docs`: one row per response with `nps_group`, `caught` (a driver was
    found) and `terms` (list). A term counts once per response. Kept: named
    by at least `min_docs` respondents of the group and z >= z_min in the
    pooled two-proportion test. `lift` = share in group / share in the rest
    (the rest's count + 0.5, so a term absent elsewhere stays finite).
    Sorted by z, largest first."""
    if docs.empty:
        return pd.DataFrame(columns=TERM_COLUMNS)
    in_group = docs["nps_group"] == group
    n_group, n_rest = int(in_group.sum()), int((~in_group).sum())
    counts: dict[str, list[int]] = {}
    for terms, mine, caught in zip(docs["terms"], in_group, docs["caught"], strict=False):
        for term in set(terms):
            c = counts.setdefault(term, [0, 0, 0])
            c[0 if mine else 1] += 1
            if not caught:
                c[2] += 1
    rows = []
    for term, (a, b, uncaught) in counts.items():
        if a < min_docs:
            continue
        z = stats.two_proportion_z(a, n_group, b, n_rest)
        if z is None or z < z_min:
            continue
        share_a, share_b = a / n_group, b / n_rest if n_rest else 0.0
        lift = share_a / ((b + 0.5) / n_rest) if n_rest else None
        rows.append([term, a, b, share_a, share_b, lift, z, uncaught])
    out = pd.DataFrame(rows, columns=TERM_COLUMNS)
    return out.sort_values(["z", "term"], ascending=[False, True]).reset_index(drop=True)


def documents(
    comments: pd.DataFrame, caught_ids: set, lemmatizer: PolishLemmatizer
) -> pd.DataFrame:
    """One document per scored response: its reason, why-answers and
    group-specific answers, as terms."""
    c = comments[comments["nps_group"].notna()]
    texts = []
    for row in c.itertuples(index=False):
        parts = [row.reason, *row.why_chain, row.improvement, row.valued_most]
        texts.append(" . ".join(p for p in parts if isinstance(p, str) and p))
    return pd.DataFrame(
        {
            "response_id": c["response_id"].tolist(),
            "nps_group": c["nps_group"].tolist(),
            "caught": [rid in caught_ids for rid in c["response_id"]],
            "text": texts,
            "terms": lemmatizer.terms(texts),
        }
    )


def suggestions(docs: pd.DataFrame, group: str, only_uncaught: bool) -> pd.DataFrame:
    """Over-represented terms of `group`; with only_uncaught, among the
    comments no driver caught (compared with the other uncaught comments)."""
    part = docs[~docs["caught"]] if only_uncaught else docs
    return over_represented(part, group)


def examples(docs: pd.DataFrame, term: str, group: str | None = None, limit: int = 10) -> list[str]:
    hit = docs[[term in set(t) for t in docs["terms"]]]
    if group:
        hit = hit[hit["nps_group"] == group]
    return hit["text"].head(limit).tolist()
