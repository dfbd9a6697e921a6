"""Polish lemmas for the NLU: spacy-lookups-data's tables (nps.lemmas) against
Morfeusz 2, on the words of the training examples (data/nlu/**/*.yml).

    .venv/bin/python -m bench.lemma_compare            # spaCy tables only
    <python with morfeusz2> -m bench.lemma_compare     # both

Morfeusz 2 is not a requirement of the project; to measure it, use a scratch
environment:

    python3.10 -m venv /tmp/morf && /tmp/morf/bin/pip install morfeusz2 pyyaml \\
        spacy-lookups-data==1.0.5
    PYTHONPATH=. /tmp/morf/bin/python -m bench.lemma_compare

Printed per analyser, over running words (tokens) and distinct words:
  known      the analyser knows the word (a table entry / a Morfeusz reading
             other than "ign"), as typed;
  known, diacritics off  the same for the words that have diacritics, typed
             without them (customers often type "paczke" for "paczkę");
  changed    the lemma differs from the (folded) word: inflection removed;
  ambiguous  (Morfeusz) more than one lemma among its readings;
  agree      both give the same folded lemma (Morfeusz: its first reading);
  ms/1000    time to lemmatise 1000 distinct words, cold caches;
  load       time to make the analyser ready (spaCy: the cached index);
  size       installed size of the package.

    .venv/bin/python -m bench.lemma_compare --negation

measures the choice of PolishTokenizer's negation mark without training DIET
(a proxy, minutes cheaper): a logistic regression predicts a mention's
polarity from its words, trained on the entity spans of data/nlu (role pos /
neg), tested on the comments of data/eval/comments.yml that have one polarity
(never trained on), with word counts of: the words as typed, their lemmas,
lemmas with "nie_" inside a negation's scope, lemmas plus a separate "nie_"
feature; each alone and with character n-grams of the text (as config.yml's
second CountVectorsFeaturizer). Printed: accuracy overall, on the comments
tagged "negation", and on the others.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from importlib import metadata
from pathlib import Path

import yaml

from nps import lemmas
from nps.text import fold

NLU_DIR = Path(__file__).resolve().parent.parent / "data" / "nlu"
# "[paczka](delivery)" / "[paczka]{...}" -> "paczka"
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def training_words(nlu_dir: Path = NLU_DIR) -> Counter:
    """Running words of every example (as typed, lower case)."""
    words: Counter = Counter()
    for path in sorted(nlu_dir.rglob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            for line in (item.get("examples") or "").splitlines():
                text = _ANNOTATION.sub(r"\1", line.strip().removeprefix("- "))
                words.update(w.text.lower() for w in lemmas.analyse(text) if w.text.isalpha())
    return words


def installed_size(dist: str) -> int:
    files = metadata.distribution(dist).files or []
    return sum(f.locate().stat().st_size for f in files if Path(f.locate()).is_file())


def spacy_known(word: str) -> bool:
    folded = fold(word)
    return lemmas._known(folded) is not None or lemmas._known(lemmas.squeeze(folded)) is not None


def measure_spacy(words: list[str], load: float) -> dict:
    lemmas._lemma_of_folded.cache_clear()
    start = time.perf_counter()
    found = {w: lemmas.lemma(w) for w in words}
    per_1000 = (time.perf_counter() - start) / len(words) * 1000
    return {
        "lemma": found,
        "known": {w: spacy_known(w) for w in words},
        "known_folded": {w: spacy_known(fold(w)) for w in words if fold(w) != w},
        "ambiguous": None,
        "ms_per_1000": per_1000 * 1000,
        "load_s": load,
        "size_mb": installed_size("spacy-lookups-data") / 1e6,
    }


def measure_morfeusz(words: list[str]) -> dict | None:
    try:
        import morfeusz2
    except ImportError:
        return None
    start = time.perf_counter()
    morf = morfeusz2.Morfeusz()
    load = time.perf_counter() - start

    def readings(word: str) -> list:
        return [r for r in morf.analyse(word) if r[2][2] != "ign"]

    def lemma_set(word: str) -> set:
        return {r[2][1].split(":")[0] for r in readings(word)}

    start = time.perf_counter()
    first = {}
    for w in words:
        found = readings(w)
        first[w] = fold(found[0][2][1].split(":")[0]) if found else fold(w)
    per_1000 = (time.perf_counter() - start) / len(words) * 1000
    return {
        "lemma": first,
        "known": {w: bool(readings(w)) for w in words},
        "known_folded": {w: bool(readings(fold(w))) for w in words if fold(w) != w},
        "ambiguous": {w: len(lemma_set(w)) > 1 for w in words},
        "ms_per_1000": per_1000 * 1000,
        "load_s": load,
        "size_mb": installed_size("morfeusz2") / 1e6,
        "version": f"{morfeusz2.__version__} ({morf.dict_id()})",
    }


def share(flags: dict, counts: Counter, weighted: bool) -> float:
    if weighted:
        total = sum(counts[w] for w in flags)
        return sum(counts[w] for w, on in flags.items() if on) / total
    return sum(flags.values()) / len(flags)


def report(name: str, m: dict, counts: Counter) -> None:
    words = list(counts)
    changed = {w: m["lemma"][w] != fold(w) for w in words}
    print(f"{name}")
    for label, flags in (
        ("known", m["known"]),
        ("known, diacritics off", m["known_folded"]),
        ("changed", changed),
        ("ambiguous", m["ambiguous"]),
    ):
        if flags is None:
            continue
        print(
            f"  {label:<22} {share(flags, counts, True):6.1%} of words"
            f"  {share(flags, counts, False):6.1%} of distinct"
        )
    print(
        f"  ms/1000 words {m['ms_per_1000']:8.1f}   load {m['load_s']:.2f} s"
        f"   size {m['size_mb']:.0f} MB" + (f"   {m['version']}" if "version" in m else "")
    )


EVAL_FILE = NLU_DIR.parent / "eval" / "comments.yml"
_ROLE_SPAN = re.compile(r"\[([^\]]*)\]\{([^}]*)\}")


def polarity_spans(nlu_dir: Path = NLU_DIR) -> tuple[list[str], list[str]]:
    texts, roles = [], []
    for path in sorted(nlu_dir.rglob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            for line in (item.get("examples") or "").splitlines():
                for m in _ROLE_SPAN.finditer(line):
                    try:
                        role = json.loads("{" + m.group(2) + "}").get("role")
                    except json.JSONDecodeError:
                        continue
                    if role in ("pos", "neg"):
                        texts.append(m.group(1))
                        roles.append(role)
    return texts, roles


def negation_variants() -> dict:
    def typed(t):
        return " ".join(w.text.lower() for w in lemmas.analyse(t))

    def lemma_words(t):
        return " ".join(w.lemma for w in lemmas.analyse(t))

    def marked(t):
        return " ".join(("nie_" if w.negated else "") + w.lemma for w in lemmas.analyse(t))

    def both(t):
        return " ".join(
            w.lemma + (" nie_" + w.lemma if w.negated else "") for w in lemmas.analyse(t)
        )

    return {
        "words as typed": typed,
        "lemmas": lemma_words,
        "lemmas, nie_ marked": marked,
        "lemmas + nie_ feature": both,
    }


def measure_negation() -> None:
    import numpy as np
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    train_x, train_y = polarity_spans()
    test_x, test_y, tagged = [], [], []
    for c in yaml.safe_load(EVAL_FILE.read_text(encoding="utf-8"))["comments"]:
        polarities = {d.split(":")[1] for d in c.get("drivers") or []}
        if len(polarities) == 1:
            test_x.append(c["text"])
            test_y.append(polarities.pop())
            tagged.append("negation" in (c.get("tags") or []))
    y_train, y_test, neg = np.array(train_y), np.array(test_y), np.array(tagged)
    print(
        f"trained on {len(train_x)} polarity spans of data/nlu; tested on {len(test_x)}"
        f" one-polarity comments of {EVAL_FILE.name} ({neg.sum()} tagged negation)\n"
    )
    chars = CountVectorizer(analyzer="char_wb", ngram_range=(1, 4))
    chars_train, chars_test = chars.fit_transform(train_x), chars.transform(test_x)
    print(f"{'word features':<24}{'+ char n-grams':<16}{'all':>6}{'negation':>10}{'others':>8}")
    for name, words_of in negation_variants().items():
        for with_chars in (False, True):
            vec = CountVectorizer(token_pattern=r"(?u)\b\w+\b")
            x_train = vec.fit_transform([words_of(t) for t in train_x])
            x_test = vec.transform([words_of(t) for t in test_x])
            if with_chars:
                x_train = hstack([x_train, chars_train]).tocsr()
                x_test = hstack([x_test, chars_test]).tocsr()
            model = LogisticRegression(max_iter=2000).fit(x_train, y_train)
            right = model.predict(x_test) == y_test
            print(
                f"{name:<24}{'yes' if with_chars else '':<16}{right.mean():6.3f}"
                f"{right[neg].mean():10.3f}{right[~neg].mean():8.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--negation", action="store_true", help="the negation-mark proxy")
    if parser.parse_args().negation:
        measure_negation()
        return
    start = time.perf_counter()
    lemmas.warm()  # before anything else uses the index
    load = time.perf_counter() - start
    counts = training_words()
    words = list(counts)
    print(f"data/nlu: {sum(counts.values())} words, {len(words)} distinct\n")
    spacy = measure_spacy(words, load)
    report("spacy-lookups-data 1.0.5 (nps.lemmas)", spacy, counts)
    morf = measure_morfeusz(words)
    if morf is None:
        print("\nmorfeusz2: not installed here (see the docstring for a scratch env)")
        return
    report("morfeusz2", morf, counts)
    agree = {w: spacy["lemma"][w] == morf["lemma"][w] for w in words}
    both = {w: agree[w] for w in words if spacy["known"][w] and morf["known"][w]}
    print(
        f"\nagree (folded lemma, Morfeusz's first reading): {share(agree, counts, True):.1%}"
        f" of words; {share(both, counts, True):.1%} of words both know"
    )
    differ = Counter({w: counts[w] for w in words if not agree[w]})
    print("most frequent disagreements (word: spaCy / Morfeusz):")
    for w, _ in differ.most_common(15):
        print(f"  {w}: {spacy['lemma'][w]} / {morf['lemma'][w]}")


if __name__ == "__main__":
    sys.exit(main())
