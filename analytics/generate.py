"""Synthetic conversations written into the tracker store's own schema.

The events are the ones Rasa 3.6 writes for our survey (user, bot, action,
slot, active_loop, session_started, restart) with the same JSON shapes and
the same column values (`intent_name` from parse_data, `action_name` =
the event's `name`), so the projection reads them exactly as it reads real
conversations. For tests, demos and benchmarks; never for production data.

Every random choice comes from one `random.Random(seed)`, so a seed and an
end date give the same store every time. `generate` returns the truth it
planned (one entry per survey), which tests compare with the projection.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from analytics import tracker_source
from analytics.stats import nps_group

DAY = 86_400.0
RESURVEY_DAYS = 30

CHANNELS = [
    ("socketio", 0.25),
    ("facebook", 0.25),
    ("whatsapp", 0.25),
    ("rest", 0.10),
    ("twilio", 0.15),
]
TOUCHPOINTS = [("delivery", 0.35), ("store", 0.25), ("app", 0.15), ("hotline", 0.10), (None, 0.15)]

# Which drivers a touchpoint brings to mind, and the baseline chance that a
# mention is negative. Tuned only to look plausible.
TOUCHPOINT_DRIVERS = {
    "delivery": [
        "delivery",
        "delivery",
        "price",
        "product_quality",
        "customer_support",
        "returns_complaints",
    ],
    "store": ["staff", "staff", "store_experience", "assortment", "price", "promotions"],
    "app": ["website_app", "website_app", "promotions", "price", "delivery", "assortment"],
    "hotline": ["customer_support", "customer_support", "returns_complaints", "delivery", "staff"],
    None: [
        "price",
        "product_quality",
        "assortment",
        "delivery",
        "staff",
        "promotions",
        "website_app",
    ],
}
NEGATIVE_RATE = {
    "price": 0.55,
    "promotions": 0.35,
    "product_quality": 0.35,
    "assortment": 0.45,
    "delivery": 0.45,
    "staff": 0.2,
    "customer_support": 0.55,
    "returns_complaints": 0.65,
    "website_app": 0.45,
    "store_experience": 0.4,
}

PHRASES = {
    "price": {
        "pos": [
            "ceny są bardzo przystępne",
            "tanio jak na taką jakość",
            "dobre ceny",
            "opłaca się tu kupować",
        ],
        "neg": [
            "ceny są za wysokie",
            "drogo",
            "wszystko podrożało",
            "za drogo w porównaniu z konkurencją",
            "wysyłka kosztuje za dużo",
        ],
    },
    "promotions": {
        "pos": [
            "fajne promocje",
            "karta lojalnościowa się opłaca",
            "dostałam kupon rabatowy",
            "dobre gazetki",
        ],
        "neg": [
            "kod rabatowy nie zadziałał",
            "promocje są tylko na papierze",
            "punkty z karty przepadły",
            "w gazetce była inna cena niż przy kasie",
        ],
    },
    "product_quality": {
        "pos": [
            "produkty są solidne",
            "świetna jakość",
            "wszystko zgodne z opisem",
            "rzeczy długo służą",
        ],
        "neg": [
            "buty rozkleiły się po miesiącu",
            "produkt był wadliwy",
            "jakość się pogorszyła",
            "towar niezgodny z opisem",
        ],
    },
    "assortment": {
        "pos": ["duży wybór", "zawsze jest mój rozmiar", "szeroki asortyment"],
        "neg": [
            "ciągle brakuje towaru",
            "nie było mojego rozmiaru",
            "mały wybór",
            "produkt wiecznie niedostępny",
        ],
    },
    "delivery": {
        "pos": [
            "szybka dostawa",
            "paczka przyszła na drugi dzień",
            "kurier bardzo miły",
            "wygodne paczkomaty",
        ],
        "neg": [
            "kurier się spóźnił",
            "paczka przyszła uszkodzona",
            "dostawa trwała dwa tygodnie",
            "kurier zgubił paczkę",
            "śledzenie przesyłki nie działało",
            "paczkomat był pełny",
        ],
    },
    "staff": {
        "pos": [
            "miła obsługa",
            "pani przy kasie była bardzo pomocna",
            "kompetentny sprzedawca",
            "uprzejmy personel",
        ],
        "neg": ["niemiła obsługa", "sprzedawca mnie zignorował", "obsługa bez wiedzy o produktach"],
    },
    "customer_support": {
        "pos": [
            "infolinia szybko pomogła",
            "konsultant na czacie wszystko wyjaśnił",
            "szybka odpowiedź na maila",
        ],
        "neg": [
            "nikt nie odbiera na infolinii",
            "na maila czekałem tydzień",
            "konsultant się rozłączył",
            "czat nie odpowiada",
        ],
    },
    "returns_complaints": {
        "pos": [
            "zwrot poszedł bez problemu",
            "reklamację uznali od ręki",
            "pieniądze wróciły szybko",
        ],
        "neg": [
            "reklamacja trwa miesiąc",
            "nadal czekam na zwrot pieniędzy",
            "odrzucili reklamację bez powodu",
            "zwrot jest bardzo skomplikowany",
        ],
    },
    "website_app": {
        "pos": ["aplikacja jest wygodna", "łatwo się zamawia", "dobra wyszukiwarka na stronie"],
        "neg": [
            "aplikacja się zawiesza",
            "nie mogę się zalogować",
            "płatność nie przeszła",
            "strona strasznie wolno działa",
        ],
    },
    "store_experience": {
        "pos": ["czysto w sklepie", "łatwo zaparkować", "wygodne godziny otwarcia"],
        "neg": [
            "długie kolejki do kasy",
            "tłok w sklepie",
            "brud na półkach",
            "brak miejsc na parkingu",
            "czynna tylko jedna kasa",
        ],
    },
}

WHY_ANSWERS = {
    "price": [
        "bo za te pieniądze mogę mieć lepszy produkt gdzie indziej",
        "bo ceny rosną co miesiąc",
        "bo koszt wysyłki zjada całą oszczędność",
    ],
    "promotions": [
        "bo rabat nie naliczył się w koszyku",
        "bo nikt nie umiał wyjaśnić zasad promocji",
    ],
    "product_quality": [
        "bo to już druga taka wada",
        "bo zdjęcia na stronie wyglądały inaczej",
        "bo materiał jest cienki",
    ],
    "assortment": [
        "bo musiałem jechać do innego sklepu",
        "bo od tygodni nie ma dostawy tego towaru",
    ],
    "delivery": [
        "bo czekałem cały dzień w domu",
        "bo kurier nawet nie zadzwonił",
        "bo paczka trafiła do złego paczkomatu",
        "bo potrzebowałam tego na prezent",
    ],
    "staff": ["bo czułam się zbywana", "bo nikt nie podszedł, chociaż prosiłem o pomoc"],
    "customer_support": [
        "bo sprawa wciąż nie jest załatwiona",
        "bo za każdym razem muszę wszystko tłumaczyć od nowa",
        "bo czekałem pół godziny na połączenie",
    ],
    "returns_complaints": [
        "bo potrzebuję tych pieniędzy",
        "bo nikt nie informuje, co się dzieje z reklamacją",
        "bo formularz zwrotu się nie wysyła",
    ],
    "website_app": [
        "bo po aktualizacji ciągle wylogowuje",
        "bo koszyk się czyści",
        "bo nie da się zapłacić BLIKIEM",
    ],
    "store_experience": ["bo pracuje tylko jedna kasa", "bo w weekend jest nie do wytrzymania"],
}
DONE_ANSWERS = ["nie wiem, to wszystko", "już mówiłem", "nie mam nic więcej do dodania"]

# Comments the driver catalogue does not cover: the material "emerging
# topics" should surface (packaging waste among detractors, the new
# self-checkout among promoters).
UNCAUGHT = {
    "neg": [
        "za dużo plastiku w opakowaniu",
        "paczka pełna folii i plastiku",
        "opakowanie kartonowe trzy razy za duże",
        "brak papierowych toreb",
        "w sklepie grała za głośna muzyka",
        "zapach w przymierzalni był okropny",
    ],
    "pos": [
        "kasy samoobsługowe są super",
        "nowe kasy samoobsługowe bardzo przyspieszają zakupy",
        "ekologiczne opakowanie bez plastiku",
        "podoba mi się program recyklingu",
    ],
}
IMPROVEMENTS = [
    "niższe ceny",
    "szybsza dostawa",
    "więcej promocji",
    "lepsza aplikacja",
    "krótsze kolejki",
    "darmowa wysyłka od mniejszej kwoty",
    "więcej rozmiarów",
    "mniej plastiku w paczkach",
]
VALUED_MOST = [
    "szybkość",
    "miłą obsługę",
    "jakość produktów",
    "wygodę zakupów",
    "niskie ceny",
    "kasy samoobsługowe",
    "szeroki wybór",
]
EXTRA_COMMENTS = [
    "chciałem tylko dodać, że kurier znowu się spóźnił",
    "wszystko w porządku, dziękuję",
    "aplikacja nadal się zawiesza",
    "tym razem obsługa była świetna",
]

# Ids as in data/known_issues.yml, so a demo store shows the trainers' names.
KNOWN_ISSUES = {
    "delivery": (
        "parcel_tracking",
        "Numer przesyłki i jej status znajdziesz w aplikacji: Moje zamówienia → Śledź.",
    ),
    "website_app": (
        "password_reset",
        "Hasło ustawisz na nowo przez „Nie pamiętam hasła” na ekranie logowania.",
    ),
    "returns_complaints": (
        "complaint_status",
        "Status reklamacji sprawdzisz w zakładce Zwroty i reklamacje.",
    ),
    "promotions": (
        "loyalty_points_missing",
        "Punkty za zakupy w sklepie pojawiają się na karcie do 48 godzin.",
    ),
}

SCORE_TEXTS = ["{s}", "{s}", "{s}", "{s}/10", "{s} na 10", "dałbym {s}", "chyba {s}", "{w}"]
NUMBER_WORDS = [
    "zero",
    "jeden",
    "dwa",
    "trzy",
    "cztery",
    "pięć",
    "sześć",
    "siedem",
    "osiem",
    "dziewięć",
    "dziesięć",
]
GREETINGS = ["cześć", "dzień dobry", "hej", "witam", "/start"]
QUESTION = "Cześć! Mam jedno krótkie pytanie. Jak bardzo prawdopodobne jest, że polecisz nas znajomym? (0-10)"
REASON_QUESTIONS = {
    "promoter": "Super! Co sprawiło, że dajesz tak wysoką ocenę?",
    "passive": "Dziękuję! Co było dobre, a czego zabrakło?",
    "detractor": "Przykro mi. Co poszło nie tak?",
}


def _pick(rng: random.Random, weighted):
    r = rng.random()
    acc = 0.0
    for value, weight in weighted:
        acc += weight
        if r < acc:
            return value
    return weighted[-1][0]


def _sender_id(rng: random.Random, channel: str) -> str:
    if channel == "whatsapp":
        return "48" + str(rng.randint(500_000_000, 899_999_999))
    if channel == "twilio":
        return "+48" + str(rng.randint(500_000_000, 899_999_999))
    if channel == "facebook":
        return str(rng.randint(10**15, 10**16 - 1))
    return uuid.UUID(int=rng.getrandbits(128)).hex


@dataclass
class Plan:
    """One planned survey (the truth the generator returns)."""

    sender_id: str
    channel: str
    touchpoint: str | None
    start: float
    score: int | None
    drivers: list = field(default_factory=list)  # "id:pol" in order, accumulated
    why_chain: list = field(default_factory=list)
    reason: str | None = None
    known_issue: str | None = None
    issue_resolved: bool | None = None
    score_after: int | None = None
    outcome: str | None = None  # finished / stopped / None (in progress or abandoned)
    restarted: bool = False  # the customer typed /restart mid-survey before this one


class _Writer:
    """Turns a conversation into Rasa event rows, advancing the clock."""

    def __init__(self, rng: random.Random, sender_id: str, channel: str, start: float):
        self.rng = rng
        self.sender_id = sender_id
        self.channel = channel
        self.ts = start
        self.rows: list[dict] = []

    def _add(self, data: dict, intent: str | None = None) -> None:
        data["timestamp"] = self.ts
        self.rows.append(
            {
                "sender_id": self.sender_id,
                "type_name": data["event"],
                "timestamp": self.ts,
                "intent_name": intent,
                "action_name": data.get("name"),
                "data": json.dumps(data, ensure_ascii=False),
            }
        )
        self.ts += self.rng.uniform(0.01, 0.3)

    def wait(self, low: float = 4.0, high: float = 60.0) -> None:
        self.ts += self.rng.uniform(low, high)

    def action(self, name: str, policy: str = "RulePolicy") -> None:
        self._add(
            {
                "event": "action",
                "metadata": {},
                "name": name,
                "policy": policy,
                "confidence": 1.0,
                "action_text": None,
                "hide_rule_turn": False,
            }
        )

    def session_start(self) -> None:
        self.action("action_session_start", policy=None)
        self._add({"event": "session_started", "metadata": {}})
        self.action("action_listen")

    def user(self, text: str, intent: str, entities: list | None = None) -> None:
        self.wait()
        message_id = uuid.UUID(int=self.rng.getrandbits(128)).hex
        confidence = round(self.rng.uniform(0.7, 0.999), 4)
        parse = {
            "intent": {"name": intent, "confidence": confidence},
            "entities": entities or [],
            "text": text,
            "message_id": message_id,
            "metadata": {},
            "intent_ranking": [{"name": intent, "confidence": confidence}],
        }
        self._add(
            {
                "event": "user",
                "metadata": {},
                "text": text,
                "parse_data": parse,
                "input_channel": self.channel,
                "message_id": message_id,
            },
            intent=intent,
        )

    def bot(self, text: str, buttons: list | None = None) -> None:
        self._add(
            {
                "event": "bot",
                "metadata": {"utter_action": "utter_generated"},
                "text": text,
                "data": {
                    "elements": None,
                    "quick_replies": None,
                    "buttons": buttons,
                    "attachment": None,
                    "image": None,
                    "custom": None,
                },
            }
        )

    def slot(self, name: str, value) -> None:
        self._add({"event": "slot", "metadata": {}, "name": name, "value": value})

    def loop(self, name: str | None) -> None:
        self._add({"event": "active_loop", "metadata": {}, "name": name})


def _entities(text: str, mentions: list[tuple[str, str, str]]) -> list:
    out = []
    for phrase, driver, polarity in mentions:
        start = text.find(phrase)
        out.append(
            {
                "entity": driver,
                "role": polarity,
                "start": max(start, 0),
                "end": max(start, 0) + len(phrase),
                "value": phrase,
                "extractor": "DIETClassifier",
                "confidence_entity": 0.95,
            }
        )
    return out


class Generator:
    def __init__(self, seed: int, end: float, months: int = 18):
        self.rng = random.Random(seed)
        self.end = end
        self.span = months * 30.4 * DAY
        self.start = end - self.span

    # -- the customer's situation ---------------------------------------
    def _negative_rate(self, driver: str, when: float) -> float:
        rate = NEGATIVE_RATE[driver]
        month = (when - self.start) / (30.4 * DAY)
        # A story for the trend: a courier change goes wrong in months 9-11,
        # and the new app release fixes logins from month 12 on.
        if driver == "delivery" and 9 <= month < 12:
            rate += 0.3
        if driver == "website_app" and month >= 12:
            rate -= 0.25
        return min(max(rate, 0.05), 0.95)

    def _situation(self, touchpoint, when):
        rng = self.rng
        count = _pick(rng, [(0, 0.12), (1, 0.5), (2, 0.3), (3, 0.08)])
        pool = TOUCHPOINT_DRIVERS[touchpoint]
        chosen: list[str] = []
        while len(chosen) < count:
            d = rng.choice(pool if rng.random() < 0.8 else list(NEGATIVE_RATE))
            if d not in chosen:
                chosen.append(d)
        mentions = [
            (d, "neg" if rng.random() < self._negative_rate(d, when) else "pos") for d in chosen
        ]
        pos = sum(1 for _, p in mentions if p == "pos")
        neg = len(mentions) - pos
        uncaught = None
        if count == 0 or rng.random() < 0.06:
            uncaught = "neg" if rng.random() < 0.5 else "pos"
        mean = (
            8.0
            + 1.3 * pos
            - 2.6 * neg
            + (1.0 if uncaught == "pos" else -1.5 if uncaught == "neg" else 0.0)
        )
        score = int(min(10, max(0, round(rng.gauss(mean, 1.4)))))
        return mentions, uncaught, score

    # -- one conversation -----------------------------------------------
    def survey(
        self, w: _Writer, plan: Plan, score: int | None, mentions, uncaught, cut: int | None
    ) -> None:
        """Write one survey. `cut`: stop writing after that many steps (a
        conversation in progress or abandoned); None: run to the end. The
        plan records only what was actually written."""
        rng = self.rng
        step = 0

        def more() -> bool:
            nonlocal step
            step += 1
            return cut is None or step <= cut

        greeting = rng.choice(GREETINGS)
        if plan.touchpoint and rng.random() < 0.8:
            text = f'/start{{"touchpoint":"{plan.touchpoint}"}}'
            w.user(
                text,
                "start",
                [
                    {
                        "entity": "touchpoint",
                        "value": plan.touchpoint,
                        "start": 6,
                        "end": 6 + len(plan.touchpoint),
                    }
                ],
            )
        else:
            w.user(greeting, "greet" if not greeting.startswith("/") else "start")
        w.action("action_start_survey")
        if plan.touchpoint:
            w.slot("touchpoint", plan.touchpoint)
        w.action("survey_form")
        w.loop("survey_form")
        w.slot("requested_slot", "nps_score")
        w.bot(QUESTION, [{"title": str(i), "payload": str(i)} for i in range(11)])
        w.action("action_listen")
        if not more():
            return

        group = nps_group(score)
        # Score and reason in one message, sometimes.
        combined = score is not None and mentions and rng.random() < 0.15
        reason_text, reason_mentions = self._reason(mentions, uncaught)
        if score is None:
            for attempt in ("7,5", "nie wiem, może 7 albo 8"):
                w.user(attempt, "give_score")
                w.action("survey_form")
                w.slot("nps_score", None)
                w.bot("Podaj proszę jedną liczbę od 0 do 10.")
                w.action("action_listen")
            w.action("survey_form")
            w.slot("nps_score", None)
            w.slot("requested_slot", "reason")
            w.bot("Nie szkodzi. Co najbardziej wpływa na Twoją opinię o nas?")
        else:
            if rng.random() < 0.05:
                w.user("11", "give_score")
                w.action("survey_form")
                w.slot("nps_score", None)
                w.bot("Skala jest od 0 do 10. Jaką ocenę dajesz?")
                w.action("action_listen")
            text = rng.choice(SCORE_TEXTS).format(s=score, w=NUMBER_WORDS[score])
            if combined:
                text = f"{score}, bo {reason_text}"
            w.user(text, "give_score", _entities(text, reason_mentions) if combined else [])
            w.action("survey_form")
            w.slot("nps_score", score)
            plan.score = score
            w.slot("nps_group", group)
            if combined:
                w.slot("reason", reason_text)
                plan.reason = reason_text
                plan.drivers = [f"{d}:{p}" for d, p in mentions]
                w.slot("drivers", list(plan.drivers))
            else:
                w.slot("requested_slot", "reason")
                w.bot(REASON_QUESTIONS[group])
        w.action("action_listen")
        if not more():
            return
        if plan.outcome == "stopped" and rng.random() < 0.5:
            return self._stop(w, plan)

        if plan.reason is None:
            w.user(reason_text, "give_feedback", _entities(reason_text, reason_mentions))
            w.action("survey_form")
            w.slot("reason", reason_text)
            plan.reason = reason_text
            plan.drivers = [f"{d}:{p}" for d, p in mentions]
            w.slot("drivers", list(plan.drivers))
            w.action("action_listen")
            if not more():
                return
        if plan.outcome == "stopped":
            return self._stop(w, plan)

        negatives = [d for d, p in mentions if p == "neg"]
        if group in ("detractor", "passive") and negatives:
            main = negatives[0]
            depth = rng.choice([1, 1, 2, 2, 3, 4, 5])
            for i in range(depth):
                w.slot("requested_slot", "why_answer")
                w.bot(f"Rozumiem. A dlaczego to było dla Ciebie ważne? ({i + 1})")
                w.action("action_listen")
                if not more():
                    return
                if i > 0 and rng.random() < 0.2:
                    answer = rng.choice(DONE_ANSWERS)
                    w.user(answer, "done")
                    w.action("survey_form")
                    break
                unused = [
                    a for a in WHY_ANSWERS[main] if not any(c.startswith(a) for c in plan.why_chain)
                ]
                if not unused:
                    w.user(rng.choice(DONE_ANSWERS), "done")
                    w.action("survey_form")
                    break
                answer = rng.choice(unused)
                new = []
                if rng.random() < 0.25:
                    other = rng.choice(list(PHRASES))
                    pol = "neg" if rng.random() < 0.8 else "pos"
                    phrase = rng.choice(PHRASES[other][pol])
                    answer = f"{answer}, a poza tym {phrase}"
                    new = [(phrase, other, pol)]
                w.user(answer, "give_feedback", _entities(answer, new))
                w.action("survey_form")
                plan.why_chain.append(answer)
                w.slot("why_chain", list(plan.why_chain))
                for _, d, p in new:
                    if f"{d}:{p}" not in plan.drivers:
                        plan.drivers.append(f"{d}:{p}")
                        w.slot("drivers", list(plan.drivers))
                if main in KNOWN_ISSUES and rng.random() < 0.35:
                    self._known_issue(w, plan, main)
                    break
        if group == "passive":
            w.slot("requested_slot", "improvement")
            w.bot("Co musiałoby się zmienić, żebyś dał(a) nam 10?")
            w.action("action_listen")
            if not more():
                return
            improvement = rng.choice(IMPROVEMENTS)
            w.user(improvement, "give_feedback")
            w.action("survey_form")
            w.slot("improvement", improvement)
        elif group == "promoter":
            w.slot("requested_slot", "valued_most")
            w.bot("Co cenisz u nas najbardziej?")
            w.action("action_listen")
            if not more():
                return
            valued = rng.choice(VALUED_MOST)
            w.user(valued, "give_feedback")
            w.action("survey_form")
            w.slot("valued_most", valued)
            w.bot("Dziękujemy! Będzie nam miło, jeśli zostawisz opinię: https://example.com/opinia")
        elif group == "detractor":
            w.slot("requested_slot", "contact_consent")
            w.bot("Czy możemy się z Tobą skontaktować, żeby to naprawić?")
            w.action("action_listen")
            if not more():
                return
            yes = rng.random() < 0.45
            w.user("tak" if yes else "nie, dziękuję", "affirm" if yes else "deny")
            w.action("survey_form")
            w.slot("contact_consent", yes)
        if not more():
            return
        w.loop(None)
        w.slot("requested_slot", None)
        w.action("action_finish_survey")
        w.slot("survey_outcome", "finished")
        w.slot("last_survey_at", w.ts)
        w.bot("Dziękuję za rozmowę!")
        w.action("action_listen")
        plan.outcome = "finished"

    def _reason(self, mentions, uncaught):
        rng = self.rng
        parts, found = [], []
        for d, p in mentions:
            phrase = rng.choice(PHRASES[d][p])
            parts.append(phrase)
            found.append((phrase, d, p))
        if uncaught:
            parts.append(rng.choice(UNCAUGHT[uncaught]))
        if not parts:
            parts.append(rng.choice(["trudno powiedzieć", "ogólnie ok", "nie wiem"]))
        joiner = rng.choice([", ale ", ", ", " i "]) if len(parts) > 1 else ""
        text = joiner.join(parts) if joiner else parts[0]
        return text[0].upper() + text[1:], [
            (phr if text.find(phr) >= 0 else phr.capitalize(), d, p) for phr, d, p in found
        ]

    def _known_issue(self, w: _Writer, plan: Plan, driver: str) -> None:
        rng = self.rng
        issue, fix = KNOWN_ISSUES[driver]
        w.slot("known_issue", issue)
        plan.known_issue = issue
        w.bot(f"Znamy ten problem. {fix} Czy to pomogło?")
        w.action("action_listen")
        helped = rng.random() < 0.6
        w.user("tak, pomogło" if helped else "nie bardzo", "affirm" if helped else "deny")
        w.action("survey_form")
        w.slot("issue_resolved", helped)
        plan.issue_resolved = helped
        if helped and plan.score is not None and rng.random() < 0.8:
            w.bot("Cieszę się! Czy teraz oceniłbyś nas inaczej (0-10)?")
            w.action("action_listen")
            after = min(10, plan.score + rng.randint(1, 5))
            w.user(str(after), "give_score")
            w.action("survey_form")
            w.slot("nps_score_after", after)
            plan.score_after = after

    def _stop(self, w: _Writer, plan: Plan) -> None:
        w.user(self.rng.choice(["stop", "koniec", "nie chcę już odpowiadać"]), "stop")
        w.action("action_stop_survey")
        w.loop(None)
        w.slot("requested_slot", None)
        w.slot("survey_outcome", "stopped")
        w.slot("last_survey_at", w.ts)
        w.bot("Rozumiem, dziękuję za to, co udało się powiedzieć!")
        w.action("action_listen")
        plan.outcome = "stopped"

    def extra_comment(self, w: _Writer) -> None:
        w.user(self.rng.choice(GREETINGS), "greet")
        w.action("action_start_survey")
        w.bot("Niedawno rozmawialiśmy o Twojej ocenie. Chcesz coś dodać?")
        w.action("action_listen")
        comment = self.rng.choice(EXTRA_COMMENTS)
        w.user(comment, "give_feedback")
        w.action("action_save_extra_comment")
        w.slot("extra_comment", comment)
        w.bot("Dziękuję, przekażę dalej.")
        w.action("action_listen")

    # -- the whole store -------------------------------------------------
    def conversations(self, count: int):
        """Yield (rows, plans) per conversation in time order."""
        rng = self.rng
        # More conversations lately, as the bot is rolled out to more channels.
        starts = sorted(self.start + self.span * math.sqrt(rng.random()) for _ in range(count))
        customers: list[tuple[str, str, float]] = []  # sender, channel, last survey time
        for start in starts:
            if customers and rng.random() < 0.12:
                idx = rng.randrange(len(customers))
                sender_id, channel, last = customers[idx]
            else:
                channel = _pick(rng, CHANNELS)
                sender_id, last, idx = _sender_id(rng, channel), None, None
            w = _Writer(rng, sender_id, channel, start)
            w.session_start()
            if last is not None and start - last < RESURVEY_DAYS * DAY:
                self.extra_comment(w)
                yield w.rows, []
                continue
            plans = []
            touchpoint = _pick(rng, TOUCHPOINTS)
            age = self.end - start
            recent = age < 2 * DAY
            roll = rng.random()
            if recent and roll < 0.5:
                outcome, cut = None, rng.randint(0, 5)  # still talking
            elif roll < 0.04:
                outcome, cut = None, rng.randint(0, 4)  # walked away
            elif roll < 0.12:
                outcome, cut = "stopped", None
            else:
                outcome, cut = "finished", None
            if rng.random() < 0.01:
                # Started over with /restart: the first survey stays abandoned.
                first = Plan(sender_id, channel, touchpoint, w.ts, None)
                mentions, uncaught, score = self._situation(touchpoint, start)
                self.survey(w, first, score, mentions, uncaught, cut=rng.randint(0, 2))
                plans.append(first)
                w.user("/restart", "restart")
                w.action("action_restart")
                w._add({"event": "restart", "metadata": {}})
                w.session_start()
            plan = Plan(
                sender_id,
                channel,
                touchpoint,
                w.ts,
                None,
                outcome=outcome if outcome == "stopped" else None,
            )
            mentions, uncaught, score = self._situation(touchpoint, start)
            plan.restarted = bool(plans)
            self.survey(w, plan, None if rng.random() < 0.04 else score, mentions, uncaught, cut)
            plans.append(plan)
            entry = (sender_id, channel, w.ts if plan.outcome == "finished" else (last or -1e18))
            if idx is None:
                customers.append(entry)
            else:
                customers[idx] = entry
            yield w.rows, plans


def generate(
    engine: Engine,
    conversations: int,
    seed: int,
    end: float | None = None,
    months: int = 18,
    batch_rows: int = 50_000,
) -> list[Plan]:
    """Write `conversations` conversations into `engine`'s events table
    (created if missing) and return the planned surveys."""
    if end is None:
        end = dt.datetime.now(dt.timezone.utc).timestamp()
    tracker_source.create_events_table(engine)
    gen = Generator(seed, end, months)
    plans: list[Plan] = []
    pending: list[dict] = []
    with engine.begin() as conn:
        for rows, planned in gen.conversations(conversations):
            pending.extend(rows)
            plans.extend(planned)
            if len(pending) >= batch_rows:
                _write(conn, pending)
                pending = []
        _write(conn, pending)
    if engine.dialect.name == "postgresql":
        # A real store has been analysed by autovacuum long ago; without
        # statistics the planner would scan the whole table to find a sender.
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE events"))
    return plans


def _write(conn, rows: list[dict]) -> None:
    if not rows:
        return
    if conn.engine.url.get_backend_name() == "postgresql":
        _copy_postgresql(conn, rows)
    else:
        tracker_source.insert_events(conn, rows)


def _copy_postgresql(conn, rows: list[dict]) -> None:
    """COPY is an order of magnitude faster than INSERT for millions of
    events; ids still come from the table's own sequence, as with Rasa."""
    import csv
    import io

    buf = io.StringIO()
    out = csv.writer(buf)
    for r in rows:
        out.writerow(
            [
                r["sender_id"],
                r["type_name"],
                repr(r["timestamp"]),
                r["intent_name"] or "\\N",
                r["action_name"] or "\\N",
                r["data"],
            ]
        )
    buf.seek(0)
    cursor = conn.connection.driver_connection.cursor()
    # The search_path (schema) of the connection decides where `events` is.
    cursor.copy_expert(
        "COPY events (sender_id, type_name, timestamp, intent_name, action_name, data) "
        "FROM STDIN WITH (FORMAT csv, NULL '\\N')",
        buf,
    )
