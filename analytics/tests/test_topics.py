"""Emerging topics: the over-representation test by hand, and Polish lemmas
from the blank pipeline + spacy-lookups-data tables."""

import pandas as pd
import pytest

from analytics import stats, topics


def _docs(rows):
    return pd.DataFrame(rows, columns=["nps_group", "caught", "terms"])


def test_over_represented_by_hand():
    docs = _docs(
        [
            ("detractor", False, ["plastik", "kurier", "cena"]),
            ("detractor", False, ["plastik", "kurier", "cena"]),
            ("detractor", True, ["plastik", "kurier"]),
            ("detractor", True, ["dostawa"]),
            ("promoter", True, ["kurier", "cena"]),
            ("promoter", True, ["kurier", "cena"]),
            ("promoter", True, ["kurier"]),
            ("passive", True, []),
            ("passive", True, []),
            ("promoter", True, []),
        ]
    )
    out = topics.over_represented(docs, "detractor")
    # 4 detractors, 6 others.
    # plastik: 3/4 vs 0/6. pooled p = 3/10 = 0.3
    #   SE = sqrt(0.3 * 0.7 * (1/4 + 1/6)) = sqrt(0.21 * 0.416667) = 0.295804
    #   z = (0.75 - 0) / 0.295804 = 2.5355 >= 1.96 -> kept
    #   lift = 0.75 / ((0 + 0.5)/6) = 9.0; 2 of its 3 documents no driver caught
    # kurier: 3/4 vs 3/6: p = 0.6, SE = sqrt(0.24 * 0.416667) = 0.316228,
    #   z = 0.25 / 0.316228 = 0.79 -> not over-represented
    # cena: only 2 detractors (< 3) -> an anecdote, left out
    assert out["term"].tolist() == ["plastik"]
    row = out.iloc[0]
    assert (row["docs_group"], row["docs_rest"], row["uncaught_docs"]) == (3, 0, 2)
    assert row["z"] == pytest.approx(2.5355, abs=1e-4)
    assert row["lift"] == pytest.approx(9.0)
    assert topics.over_represented(docs.iloc[0:0], "detractor").empty


def test_two_proportion_z_edges():
    assert stats.two_proportion_z(0, 0, 1, 2) is None
    assert stats.two_proportion_z(2, 2, 3, 3) is None  # everybody: no contrast
    # 1/2 vs 0/2: p = 0.25, SE = sqrt(0.1875 * 1) = 0.433013, z = 0.5/0.433013 = 1.1547
    assert stats.two_proportion_z(1, 2, 0, 2) == pytest.approx(1.1547, abs=1e-4)


@pytest.fixture(scope="module")
def lemmatizer():
    return topics.PolishLemmatizer()


def test_polish_lemmas_without_downloads(lemmatizer):
    terms = lemmatizer.terms(
        ["Kurierzy spóźnili się z paczkami", "Miła obsługa, ale za dużo plastiku w opakowaniu"]
    )
    assert terms[0][:3] == ["kurier", "spóźnić", "paczka"]
    # "się", "ale", "za", "dużo" are stop words; adjectives become masculine lemmas
    assert terms[1][:4] == ["miły", "obsługa", "plastik", "opakowanie"]
    assert "plastik opakowanie" in terms[1]
    # A noun that is its own lemma is kept ("dostawa", not the verb "dostawać").
    assert lemmatizer.terms(["dostawa"])[0] == ["dostawa"]


def test_suggestions_on_documents(lemmatizer):
    comments = pd.DataFrame(
        {
            "response_id": range(1, 9),
            "nps_group": ["detractor"] * 4 + ["promoter"] * 4,
            "reason": [
                "Za dużo plastiku",
                "Paczka pełna plastiku",
                "Plastik wszędzie",
                "Drogo",
                "Świetne kasy samoobsługowe",
                "Kasy samoobsługowe super",
                "Nowe kasy samoobsługowe",
                "Miła obsługa",
            ],
            "why_chain": [[]] * 8,
            "improvement": [None] * 8,
            "valued_most": [None] * 8,
        }
    )
    docs = topics.documents(comments, caught_ids={4, 8}, lemmatizer=lemmatizer)
    det = topics.suggestions(docs, "detractor", only_uncaught=True)
    assert det["term"].tolist()[0] == "plastik"
    pro = topics.suggestions(docs, "promoter", only_uncaught=False)
    assert {"kasa", "samoobsługowy", "kasa samoobsługowy"} <= set(pro["term"])
    assert len(topics.examples(docs, "plastik")) == 3
