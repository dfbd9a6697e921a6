"""Synthetic conversations written into the tracker store, derived from the bot.

The customers are invented here: who writes on which channel, what they
praise or complain about (phrases per driver), the scores they give, and a
story for the trend (a courier change goes wrong, an app release fixes
logins). Everything about the bot comes from the bot's own files and rules:

- which question comes next: `nps.flow.required_slots` on the slots so far,
  groups from `nps.groups`, scores read by `nps.score.parse_score` and
  yes/no by `nps.yes_no.parse_yes_no`, as the survey form does;
- driver ids, known issues (recognised by `nps.known_issues.match`), their
  fixes, the why-questions and tips: the trainers' files in NPS_DATA_DIR;
- every intent, action, slot, form and response name: the domain
  (NPS_DOMAIN), checked as each event is written, so the generator fails
  loudly instead of drifting;
- the re-survey window: `nps.settings` (NPS_RESURVEY_DAYS); someone surveyed
  recently gets the comment form (`comment_form`, `action_save_comment`).

Employees answer the mirror survey too (issue 11): a few per store, in
survey waves every WAVE_EVERY_MONTHS months, each from the start payload of
a staff link, along the bot's employee path (`role` "employee"). They
believe in a plausible but different mix of drivers than the customers
raise (EMPLOYEE_PRAISE, EMPLOYEE_COMPLAINTS), so the perception gap has
blind spots and myths, and they predict higher scores than customers give.
A domain without the employee mode (no `role` slot) gets no employees
unless asked for, and then the generator refuses (DomainDrift).

The events are written by `analytics.rasa_events`, as Rasa 3.6 stores them.
For tests, demos and benchmarks; never for production data.

Every random choice comes from one `random.Random(seed)`, so a seed and an
end date give the same store every time. `generate` returns the truth it
planned (one entry per survey), which tests compare with the projection.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from analytics import rasa_events, tracker_source
from nps import drivers as nps_drivers
from nps import flow, known_issues, tips, why_chain, why_questions
from nps.domain import load_domain, names
from nps.groups import DETRACTOR, PASSIVE, PROMOTER, nps_group
from nps.score import parse_score
from nps.settings import Settings, load_settings
from nps.yes_no import parse_yes_no

DAY = 86_400.0
EMPLOYEE = "employee"  # the `role` slot's value for staff (nps.links.EMPLOYEE)

# --- the synthetic customers ----------------------------------------------

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
# "Nothing to add": short answers with the intent `done`, which end the chain.
DONE_ANSWERS = ["nie wiem, to wszystko", "nie wiem", "to wszystko", "nie chcę o tym mówić"]
# Answers that say little whatever the driver: the bot asks again.
VAGUE_ANSWERS = [
    "bo tak po prostu wyszło",
    "bo to było frustrujące",
    "bo nikt się tym nie przejął",
    "bo oczekiwałem czegoś innego",
    "bo to się powtarza",
]
# Answers without content ("yes", an emoji, an answer to another question):
# the bot asks for a few words once, then ends the chain.
EMPTY_ANSWERS = ["tak", "ok", "👍", "tak, można dzwonić"]
# Whys with no driver to probe (the respondent named nothing negative).
GENERIC_WHY_ANSWERS = [
    "bo po prostu oczekiwałem czegoś więcej",
    "bo ogólnie jestem zawiedziony",
    "bo to nie pierwszy raz",
    "bo liczyłam na lepsze traktowanie",
]
# Why-answers that describe a problem of data/known_issues.yml in words its
# phrases recognise; whether the bot offers a fix is decided by
# nps.known_issues.match, as in the bot, not here.
KNOWN_PROBLEM_ANSWERS = {
    "delivery": ["bo nie wiem, gdzie jest moja paczka"],
    "returns_complaints": ["bo reklamacja od miesiąca bez odpowiedzi"],
    "promotions": ["bo punkty zniknęły z karty"],
    "website_app": ["bo nie mogę się zalogować"],
    "store_experience": ["bo sklep był zamknięty"],
}

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
UNCLEAR_SCORES = ["7,5", "może 7 albo 8", "11", "nie wiem"]
YES = ["tak", "tak, pomogło", "tak, proszę"]
NO = ["nie, dziękuję", "nie bardzo", "nie trzeba"]
STOP_TEXTS = ["stop", "koniec", "nie chcę już odpowiadać"]


# --- the synthetic employees ------------------------------------------------

# One employee survey per this many customers' conversations by default.
CUSTOMERS_PER_EMPLOYEE = 20
# Employees are surveyed in waves (the wave label is the month, YYYY-MM).
WAVE_EVERY_MONTHS = 6
# A wave in the period's last month needs this many days of it (an end on
# the 2nd leaves no time to answer).
MIN_WAVE_DAYS = 7
# What staff of each store believe customers praise and complain about.
# Deliberately not the customers' mix (TOUCHPOINT_DRIVERS, NEGATIVE_RATE):
# staff see their own work (staff, the shelves) and hear about prices, while
# customers' complaints about support, returns and the app reach them rarely,
# so those become blind spots, and price, promotions and staff myths.
EMPLOYEE_PRAISE = {
    "delivery": ["delivery", "staff", "staff", "product_quality"],
    "store": ["staff", "staff", "assortment", "store_experience"],
    "app": ["website_app", "promotions", "staff"],
    "hotline": ["staff", "staff", "customer_support"],
}
EMPLOYEE_COMPLAINTS = {
    "delivery": ["price", "price", "promotions", "delivery"],
    "store": ["price", "price", "promotions", "assortment"],
    "app": ["price", "promotions", "delivery"],
    "hotline": ["price", "promotions", "delivery"],
}
# Managers and staff overestimate satisfaction (Hult et al., Journal of the
# Academy of Marketing Science, 2017): predicted scores centre well above the
# customers' (whose mean is about 7 here).
PREDICTED_MEAN, PREDICTED_SD = 8.7, 1.0
EMPLOYEE_OPENERS = ["", "", "myślę, że ", "klienci mówią, że ", "najczęściej słyszę, że "]
PREDICTED_TEXTS = ["{s}", "{s}", "{s}/10", "{s} na 10", "chyba {s}", "{w}"]
PROPOSED_FIXES = [
    "więcej osób na kasach w weekendy",
    "szkolenie z obsługi reklamacji",
    "szybsze odpowiedzi na maile od klientów",
    "lepsze oznaczenie cen na półkach",
    "częstsze dostawy towaru do sklepu",
    "prostszy formularz zwrotu",
    "informowanie klientów o opóźnieniach dostaw",
]


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


# --- what the generator knows of the bot -----------------------------------


class DomainDrift(RuntimeError):
    """The generator was about to write a name the bot's domain does not have."""


@dataclass(frozen=True)
class BotModel:
    """The bot's settings, domain and trainer files, loaded once."""

    settings: Settings
    domain: dict
    catalogue: dict
    known_issues: list
    why_questions: why_questions.WhyQuestions
    tips: dict

    @classmethod
    def load(cls, settings: Settings | None = None) -> BotModel:
        settings = settings or load_settings()
        data = settings.data_dir
        catalogue = nps_drivers.load_catalogue(data / "drivers.yml")
        return cls(
            settings=settings,
            domain=load_domain(settings.domain_path),
            catalogue=catalogue,
            known_issues=known_issues.load(data / "known_issues.yml", catalogue),
            why_questions=why_questions.load(data / "why_questions.yml", catalogue),
            tips=tips.load(data / "tips.yml", catalogue),
        )

    @functools.cached_property
    def _names(self) -> dict[str, frozenset]:
        forms = names(self.domain, "forms")
        return {
            "intents": frozenset(names(self.domain, "intents") | rasa_events.RASA_INTENTS),
            "actions": frozenset(names(self.domain, "actions") | rasa_events.RASA_ACTIONS | forms),
            "slots": frozenset(names(self.domain, "slots") | rasa_events.RASA_SLOTS),
            "responses": frozenset(names(self.domain, "responses")),
            "forms": frozenset(forms),
            "entities": frozenset(names(self.domain, "entities")),
        }

    def known(self, kind: str, name: str) -> str:
        """`name` if the domain (or Rasa itself) defines it as a `kind`."""
        if name not in self._names[kind]:
            raise DomainDrift(f"{kind[:-1]} {name!r} is not in the domain")
        return name

    @property
    def has_employees(self) -> bool:
        """Does the bot have the employees' mirror survey (the `role` slot)?"""
        return "role" in self._names["slots"]

    def response(self, name: str) -> dict:
        """The first variant of a domain response (texts are the trainers')."""
        variants = self.domain["responses"].get(self.known("responses", name)) or [{}]
        return variants[0]

    def extracted_by_text(self, slot: str, intent: str) -> bool:
        """Does Rasa's action_extract_slots copy this message into `slot`
        (a from_text mapping whose not_intent does not exclude it)?"""
        for mapping in self.domain["slots"].get(slot, {}).get("mappings") or []:
            if mapping.get("type") == "from_text" and intent not in (
                mapping.get("not_intent") or []
            ):
                return True
        return False


@dataclass
class Plan:
    """One survey as written (the truth the generator returns)."""

    sender_id: str
    channel: str
    touchpoint: str | None
    start: float
    score: int | None = None
    drivers: list = field(default_factory=list)  # "id:pol" in order, accumulated
    why_chain: list = field(default_factory=list)
    reason: str | None = None
    known_issue: str | None = None
    issue_resolved: bool | None = None
    score_after: int | None = None
    outcome: str | None = None  # finished / stopped / None (in progress or abandoned)
    why_depth: int | None = None  # how the why-chain ended (None: not ended, never probed)
    why_stop: str | None = None
    why_driver: str | None = None
    restarted: bool = False  # the customer typed /restart mid-survey before this one


@dataclass
class EmployeePlan:
    """One employee's mirror survey as written."""

    sender_id: str
    store: str
    wave: str
    start: float
    predicted_score: int | None = None
    drivers: list = field(default_factory=list)  # employee_drivers, "id:pol"
    why_chain: list = field(default_factory=list)
    outcome: str | None = None


class _Silent(Exception):
    """The customer stops writing here (a conversation in progress or abandoned)."""


class _Dialogue:
    """One sender's conversation with the bot, as the bot would write it.

    `slots` mirrors the tracker's slots; the validation methods mirror the
    survey form's (actions/survey_form.py) with the same nps functions."""

    def __init__(self, bot: BotModel, rng: random.Random, w: rasa_events.EventWriter):
        self.bot = bot
        self.rng = rng
        self.w = w
        self.slots: dict[str, Any] = {}
        self.turns_left: int | None = None
        self.last_text: str = ""
        self.last_entities: list = []

    # -- writing events, every name checked against the domain -------------
    def action(self, name: str, policy: str | None = "RulePolicy") -> None:
        self.w.action(self.bot.known("actions", name), policy, 1.0 if policy else None)

    def say(self, response: str) -> None:
        variant = self.bot.response(response)
        self.w.bot(variant.get("text"), response, variant.get("buttons"))

    def set(self, name: str, value: Any) -> None:
        self.w.slot(self.bot.known("slots", name), value)
        self.slots[name] = value

    def loop(self, form: str | None) -> None:
        self.w.active_loop(form if form is None else self.bot.known("forms", form))

    def user(self, text: str, intent: str, mentions=(), entities=None) -> None:
        if self.turns_left is not None:
            if self.turns_left <= 0:
                raise _Silent
            self.turns_left -= 1
        self.w.wait(self.rng.uniform(4.0, 60.0))
        if entities is None:
            entities = _entities(text, mentions)
        confidence = round(self.rng.uniform(0.7, 0.999), 4)
        self.w.user(text, self.bot.known("intents", intent), entities, confidence)
        self.last_text, self.last_entities = text, entities

    def tags(self, polarity: str) -> list[str]:
        return nps_drivers.drivers_from_entities(self.last_entities, self.bot.catalogue, polarity)

    @property
    def employee(self) -> bool:
        return self.slots.get("role") == EMPLOYEE

    @property
    def drivers_slot(self) -> str:
        """Where this conversation's driver tags go (nps.flow.drivers_slot):
        an employee's are their own."""
        return "employee_drivers" if self.employee else "drivers"

    def probed(self) -> str | None:
        """The driver the next "why?" probes (nps.flow.why_driver)."""
        return self.slots.get("why_driver") or nps_drivers.main_negative(
            self.slots.get(self.drivers_slot)
        )

    # -- the session and its start -------------------------------------
    def session_start(self) -> None:
        last = self.slots.get("last_survey_at")
        self.action("action_session_start", policy=None)
        self.w.session_started()
        self.slots = {}
        if last is not None:  # the only slot our session start carries over
            self.set("last_survey_at", last)
        self.action("action_listen")

    def start(self, text: str, intent: str, touchpoint: str | None, mentions=()) -> bool:
        """The first message, then action_start_survey."""
        entities = None
        if touchpoint is not None:
            end = 6 + len(touchpoint)
            entities = [{"entity": "touchpoint", "value": touchpoint, "start": 6, "end": end}]
        self.user(text, intent, mentions, entities)
        if touchpoint is not None:
            # action_start_survey sets it, cleaned, from the start payload.
            self.set("touchpoint", flow.clean_touchpoint(touchpoint))
        return self.start_survey(intent)

    def start_survey(self, intent: str | None) -> bool:
        """action_start_survey (actions/survey.py:start): the survey, or the
        comment form for someone surveyed recently (then False)."""
        self.action("action_start_survey")
        if flow.recently_surveyed(
            self.slots.get("last_survey_at"), self.w.ts, self.bot.settings.resurvey_days
        ):
            self.say("utter_resurvey_cooldown")
            self.set("survey_allowed", False)
            self.action("comment_form")
            self.loop("comment_form")
            self.set("requested_slot", "extra_comment")
            self.say("utter_ask_extra_comment")
            self.action("action_listen")
            return False
        self.say("utter_intro")
        tags = self.tags(nps_drivers.NEGATIVE)
        if intent == "feedback" and tags:
            # Someone who opens with a complaint has given the reason already.
            self.set("reason", self.last_text)
            self.set("drivers", tags)
        self.set("survey_allowed", True)
        self.action("survey_form")
        self.loop("survey_form")
        self.ask_next()
        return True

    # -- the survey form ---------------------------------------------------
    def ask_next(self) -> str | None:
        """The form asks the first empty slot of required_slots, or closes."""
        required = flow.required_slots(self.slots, self.bot.settings)
        slot = next((s for s in required if self.slots.get(s) is None), None)
        if slot is None:
            self.loop(None)
            self.set("requested_slot", None)
            return None
        self.set("requested_slot", slot)
        self.ask(slot)
        self.action("action_listen")
        return slot

    def ask(self, slot: str) -> None:
        # The form asks with utter_ask_<slot> when the domain has it;
        # validate_survey_form asks the reason and the whys itself, and says a
        # known issue's fix before utter_ask_issue_resolved.
        if slot == "issue_resolved":
            issue = next(i for i in self.bot.known_issues if i.id == self.slots["known_issue"])
            self.say("utter_fix_intro")
            self.w.bot(f"{issue.fix}\n{issue.link}" if issue.link else issue.fix)
        if f"utter_ask_{slot}" in self.bot._names["responses"]:
            self.say(f"utter_ask_{slot}")
        elif slot == "reason":
            self.say(f"utter_ask_reason_{self.slots.get('nps_group') or 'neutral'}")
        elif slot == "why_answer":
            if int(self.slots.get("clarify_count") or 0) > 0:
                self.say("utter_why_clarify")  # the last answer had no content
            elif self.employee:
                self.say("utter_employee_why")
            else:
                round_ = len(self.slots.get("why_chain") or [])
                question = self.bot.why_questions.question(self.probed(), round_)
                self.w.bot(question)
        else:
            raise DomainDrift(f"no way to ask {slot!r} known to the generator")

    def answer(self, text: str, intent: str, mentions=()) -> str | None:
        """The customer answers the requested slot; the form validates the
        answer and asks the next question. Returns that question's slot."""
        slot = self.slots["requested_slot"]
        self.user(text, intent, mentions)
        if self.bot.extracted_by_text(slot, intent):
            self.set(slot, text)  # action_extract_slots, before validation
        self.action("survey_form")
        responses, values = getattr(self, f"_validate_{slot}")(text, intent)
        for response in responses:
            self.say(response)
        for name, value in values.items():
            self.set(name, value)
        return self.ask_next()

    def _classify(self, text: str, polarity: str) -> dict[str, Any]:
        tags = self.tags(polarity)
        slot = self.drivers_slot
        result: dict[str, Any] = {slot: nps_drivers.merge(self.slots.get(slot), tags)}
        # An employee is not offered a customer's fix.
        if not self.employee and not self.slots.get("known_issue"):
            issue = known_issues.match(text, tags, self.bot.known_issues)
            if issue:
                result["known_issue"] = issue.id
        return result

    def _reason(self, text: str, group: str | None) -> dict[str, Any]:
        polarity = nps_drivers.POSITIVE if group == PROMOTER else nps_drivers.NEGATIVE
        return {"reason": text, **self._classify(text, polarity)}

    def _clarify(self, slot: str, ask_again: str, move_on: str | None = None):
        count = int(self.slots.get("clarify_count") or 0) + 1
        if count >= self.bot.settings.max_clarifications:
            skipped = list(self.slots.get("skipped_slots") or []) + [slot]
            said = [move_on] if move_on else []
            return said, {slot: None, "clarify_count": 0, "skipped_slots": skipped}
        return [ask_again], {slot: None, "clarify_count": count}

    def _validate_nps_score(self, text: str, intent: str):
        parsed = parse_score(text)
        if parsed.status == "ok":
            group = nps_group(parsed.score)
            values = {"nps_score": parsed.score, "nps_group": group, "clarify_count": 0}
            # Only remainders that name a driver are written (see _situation),
            # so the bot's word-count rule never decides here.
            if self.slots.get("reason") is None and parsed.remainder and self.tags("neg"):
                values.update(self._reason(parsed.remainder, group))
            return [], values
        ask_again = {
            "out_of_range": "utter_score_out_of_range",
            "ambiguous": "utter_score_ambiguous",
            "school_grade": "utter_score_school_grade",
        }.get(parsed.status, "utter_score_unclear")
        return self._clarify("nps_score", ask_again, "utter_score_skipped")

    def _validate_reason(self, text: str, intent: str):
        return [], self._reason(text, self.slots.get("nps_group"))

    def _validate_why_answer(self, text: str, intent: str):
        # The bot's judgement (nps.why_chain), as validate_why_answer applies it.
        settings = self.bot.settings
        limit = _max_whys(settings)
        chain = list(self.slots.get("why_chain") or [])
        tags = self.tags(nps_drivers.NEGATIVE)
        classified = self._classify(text, nps_drivers.NEGATIVE)
        verdict = why_chain.judge(
            text,
            tags,
            earlier=[
                self.slots.get("predicted_complaint" if self.employee else "reason") or "",
                *chain,
            ],
            known_issue="known_issue" in classified,
            nlu_says_done=intent == "done",
        )
        empty_in_a_row = int(self.slots.get("clarify_count") or 0)
        step = why_chain.step(
            verdict,
            stored=len(chain),
            max_whys=limit,
            empty_in_a_row=empty_in_a_row,
            max_clarifications=settings.max_clarifications,
        )
        values: dict[str, Any] = {"why_answer": None}
        if step.clarify:
            values["clarify_count"] = empty_in_a_row + 1
            return [], values
        values["clarify_count"] = 0
        if step.store:
            chain = (chain + [text])[:limit]
            probed = nps_drivers.main_negative(tags) or self.probed()
            values.update({"why_chain": chain, "why_driver": probed, **classified})
        if step.stop:
            values.update({"why_stop": step.stop, "why_depth": len(chain)})
        return [], values

    def _yes_no(self, slot: str, text: str, said_no: str | None = None):
        answer = parse_yes_no(text)
        if answer is None:
            return self._clarify(slot, "utter_clarify_yes_no")
        return ([said_no] if said_no and answer is False else []), {
            slot: answer,
            "clarify_count": 0,
        }

    def _validate_issue_resolved(self, text: str, intent: str):
        return self._yes_no("issue_resolved", text, "utter_issue_not_resolved")

    def _validate_contact_consent(self, text: str, intent: str):
        return self._yes_no("contact_consent", text)

    def _validate_nps_score_after(self, text: str, intent: str):
        parsed = parse_score(text)
        if parsed.status == "ok":
            return [], {"nps_score_after": parsed.score, "clarify_count": 0}
        skipped = list(self.slots.get("skipped_slots") or []) + ["nps_score_after"]
        return [], {"nps_score_after": None, "skipped_slots": skipped, "clarify_count": 0}

    def _validate_improvement(self, text: str, intent: str):
        return [], {"improvement": text, **self._classify(text, nps_drivers.NEGATIVE)}

    def _validate_valued_most(self, text: str, intent: str):
        return [], {"valued_most": text, **self._classify(text, nps_drivers.POSITIVE)}

    # -- the employees' path (actions/survey_form.py) ----------------------
    def _validate_predicted_score(self, text: str, intent: str):
        parsed = parse_score(text)
        if parsed.status == "ok":
            return [], {"predicted_score": parsed.score, "clarify_count": 0}
        raise DomainDrift(f"the generator wrote a predicted score the bot cannot read: {text!r}")

    def _validate_predicted_praise(self, text: str, intent: str):
        return [], {"predicted_praise": text, **self._classify(text, nps_drivers.POSITIVE)}

    def _validate_predicted_complaint(self, text: str, intent: str):
        return [], {"predicted_complaint": text, **self._classify(text, nps_drivers.NEGATIVE)}

    def _validate_proposed_fix(self, text: str, intent: str):
        return [], {"proposed_fix": text, "clarify_count": 0}

    def start_employee(self, token: str, store: str, wave: str) -> None:
        """A staff link's start payload, then action_start_survey's employee
        branch (actions/survey.py:_start_employee), which takes the store
        and wave from the signed link."""
        text = f'/start{{"employee_link":"{token}"}}'
        begin = text.index(token)
        entity = {
            "entity": self.bot.known("entities", "employee_link"),
            "value": token,
            "start": begin,
            "end": begin + len(token),
        }
        self.user(text, "start", entities=[entity])
        self.action("action_start_survey")
        self.say("utter_employee_intro")
        self.set("role", EMPLOYEE)
        self.set("touchpoint", store)
        self.set("survey_wave", wave)
        self.set("survey_allowed", True)
        self.action("survey_form")
        self.loop("survey_form")
        self.ask_next()

    # -- leaving and finishing (rules + actions/survey.py) -----------------
    def stop(self) -> None:
        self.user(self.rng.choice(STOP_TEXTS), "stop")
        self.action("action_deactivate_loop")
        self.loop(None)
        self.set("requested_slot", None)
        self.action("action_stop_survey")
        self.say("utter_goodbye_stop")
        self.set("survey_outcome", "stopped")
        self.set("last_survey_at", self.w.ts)
        self.action("action_listen")

    def finish(self) -> None:
        self.action("action_finish_survey")
        group = self.slots.get("nps_group")
        if self.employee:
            self.say("utter_thanks_employee")
        elif group == PROMOTER:
            self.say("utter_thanks_promoter")
            if self.bot.settings.review_url:
                self.say("utter_recommend")
            if tips.tip_for(self.slots.get("drivers"), self.bot.tips):
                self.say("utter_tip")
        elif group == PASSIVE:
            self.say("utter_thanks_passive")
        elif group == DETRACTOR and self.slots.get("contact_consent") is True:
            self.say("utter_thanks_detractor_contact")
        elif group == DETRACTOR:
            self.say("utter_thanks_detractor")
        else:
            self.say("utter_thanks_neutral")
        self.set("survey_outcome", "finished")
        self.set("last_survey_at", self.w.ts)
        self.action("action_listen")

    def restart(self) -> None:
        self.user("/restart", "restart")
        self.action("action_restart")
        self.say("utter_restarting")
        self.w.restart()
        self.slots = {}  # Restarted resets every slot
        self.last_entities = []
        self.start_survey("restart")  # action_restart's FollowupAction

    def comment(self, text: str) -> None:
        """Answer the comment form (someone surveyed recently)."""
        self.user(text, "feedback")
        if self.bot.extracted_by_text("extra_comment", "feedback"):
            self.set("extra_comment", text)
        self.action("comment_form")
        self.set("extra_comment", text)
        self.loop(None)
        self.set("requested_slot", None)
        self.action("action_save_comment")
        self.say("utter_comment_thanks")
        self.action("action_listen")


def _max_whys(settings: Settings) -> int:
    """How many whys at most: NPS_MAX_WHYS when set, else the trainers'
    why_limit (nps.flow.max_whys reads data/survey_paths.yml)."""
    if settings.max_whys is not None:
        return settings.max_whys
    return flow.max_whys(settings)


def _entities(text: str, mentions) -> list:
    out = []
    for phrase, driver, polarity in mentions:
        start = max(text.find(phrase), 0)
        out.append(
            {
                "entity": driver,
                "role": polarity,
                "start": start,
                "end": start + len(phrase),
                "value": phrase,
                "extractor": "DIETClassifier",
                "confidence_entity": 0.95,
            }
        )
    return out


class Generator:
    def __init__(self, seed: int, end: float, months: int = 18, bot: BotModel | None = None):
        self.rng = random.Random(seed)
        self.end = end
        self.span = months * 30.4 * DAY
        self.start = end - self.span
        self.bot = bot or BotModel.load()
        ids = list(self.bot.catalogue)
        self.driver_ids = ids
        # Only the trainers' drivers: a touchpoint's usual drivers, else any.
        self.pools = {
            tp: [d for d in pool if d in self.bot.catalogue] or ids
            for tp, pool in TOUCHPOINT_DRIVERS.items()
        }

    # -- the customer's situation ---------------------------------------
    def _negative_rate(self, driver: str, when: float) -> float:
        rate = NEGATIVE_RATE.get(driver, 0.4)
        month = (when - self.start) / (30.4 * DAY)
        # A story for the trend: a courier change goes wrong in months 9-11,
        # and the new app release fixes logins from month 12 on.
        if driver == "delivery" and 9 <= month < 12:
            rate += 0.3
        if driver == "website_app" and month >= 12:
            rate -= 0.25
        return min(max(rate, 0.05), 0.95)

    def _phrase(self, driver: str, polarity: str, rng: random.Random | None = None) -> str:
        phrases = PHRASES.get(driver, {}).get(polarity)
        if phrases:
            return (rng or self.rng).choice(phrases)
        # A driver the trainers added after these phrases were written.
        label = self.bot.catalogue[driver].label.lower()
        return f"{label} na plus" if polarity == "pos" else f"{label} na minus"

    def _situation(self, touchpoint, when):
        rng = self.rng
        count = _pick(rng, [(0, 0.12), (1, 0.5), (2, 0.3), (3, 0.08)])
        pool = self.pools[touchpoint]
        chosen: list[str] = []
        while len(chosen) < min(count, len(self.driver_ids)):
            d = rng.choice(pool if rng.random() < 0.8 else self.driver_ids)
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

    def _reason(self, mentions, uncaught):
        rng = self.rng
        parts, found = [], []
        for d, p in mentions:
            phrase = self._phrase(d, p)
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

    def _why(self, d: _Dialogue, first: bool, rng: random.Random | None = None):
        """One answer to "why?" about the driver the bot probes; (text,
        intent, mentions). What the answer was (specific, vague, done...) is
        the bot's judgement (nps.why_chain), made in _validate_why_answer;
        here the customer only says it: sometimes done or without content,
        sometimes a known problem, the driver named in a few concrete words
        (more often the longer they are asked), or another driver. `rng`:
        another random stream (the employees')."""
        rng = rng or self.rng
        if rng.random() < (0.05 if first else 0.15):
            return rng.choice(DONE_ANSWERS), "done", []
        # Someone who answered "tak" once often does it again.
        if rng.random() < (0.3 if d.slots.get("clarify_count") else 0.07):
            return rng.choice(EMPTY_ANSWERS), "affirm", []
        reason = d.slots.get("reason")
        if reason and rng.random() < 0.03:
            return reason, "feedback", []  # says the reason again (a repeat ends the chain)
        probed = d.probed()
        chain = d.slots.get("why_chain") or []
        options = (WHY_ANSWERS.get(probed, []) if probed else GENERIC_WHY_ANSWERS) + VAGUE_ANSWERS
        if probed and rng.random() < 0.25:
            options = KNOWN_PROBLEM_ANSWERS.get(probed, options)
        unused = [a for a in options if not any(c.startswith(a) for c in chain)]
        if not unused:
            return rng.choice(DONE_ANSWERS), "done", []
        answer, mentions = rng.choice(unused), []
        roll = rng.random()
        if probed and roll < 0.2 + 0.1 * len(chain):
            # The NLU finds the probed driver in the answer.
            words = answer.removeprefix("bo ")
            mentions = [(words, probed, "neg")]
        elif roll > 0.8:
            # The customer moves on to another driver (the next "why?" follows).
            other = rng.choice(self.driver_ids)
            pol = "neg" if rng.random() < 0.8 else "pos"
            phrase = self._phrase(other, pol, rng)
            answer = f"{answer}, a poza tym {phrase}" if rng.random() < 0.5 else f"bo {phrase}"
            mentions = [(phrase, other, pol)]
        return answer, "feedback", mentions

    # -- one conversation -----------------------------------------------
    def survey(self, d: _Dialogue, score: int | None, mentions, uncaught, stop_at: int | None):
        """The survey from the first question to its end. `stop_at`: the
        customer says "stop" at that question (0 = the score)."""
        rng = self.rng
        reason_text, reason_mentions = self._reason(mentions, uncaught)
        question = d.slots.get("requested_slot")
        asked = 0
        first_why = True
        while question is not None:
            if stop_at is not None and asked >= stop_at:
                return d.stop()
            asked += 1
            if question == "nps_score":
                if score is None:
                    text, intent, said = rng.choice(UNCLEAR_SCORES), "give_score", []
                elif rng.random() < 0.05 and not d.slots.get("clarify_count"):
                    text, intent, said = "11", "give_score", []
                elif reason_mentions and d.slots.get("reason") is None and rng.random() < 0.15:
                    # Score and reason in one message.
                    text = f"{score}, bo {reason_text[0].lower()}{reason_text[1:]}"
                    intent = "give_score"
                    said = [(p[0].lower() + p[1:], dr, po) for p, dr, po in reason_mentions]
                else:
                    text = rng.choice(SCORE_TEXTS).format(s=score, w=NUMBER_WORDS[score])
                    intent, said = "give_score", []
                question = d.answer(text, intent, said)
            elif question == "reason":
                question = d.answer(reason_text, "feedback", reason_mentions)
            elif question == "why_answer":
                text, intent, said = self._why(d, first_why)
                first_why = False
                question = d.answer(text, intent, said)
            elif question == "issue_resolved":
                text = rng.choice(YES if rng.random() < 0.6 else NO)
                question = d.answer(text, "affirm" if text in YES else "deny")
            elif question == "nps_score_after":
                before = d.slots.get("nps_score")
                if rng.random() < 0.8:
                    after = min(10, (before if before is not None else 5) + rng.randint(1, 5))
                    question = d.answer(str(after), "give_score")
                else:
                    question = d.answer("nie", "deny")
            elif question == "improvement":
                question = d.answer(rng.choice(IMPROVEMENTS), "feedback")
            elif question == "valued_most":
                question = d.answer(rng.choice(VALUED_MOST), "feedback")
            elif question == "contact_consent":
                text = rng.choice(YES if rng.random() < 0.45 else NO)
                question = d.answer(text, "affirm" if text in YES else "deny")
            else:
                raise DomainDrift(f"the generator cannot answer {question!r}")
        d.finish()

    def _plan(self, d: _Dialogue, sender_id, channel, start) -> Plan:
        s = d.slots
        return Plan(
            sender_id,
            channel,
            s.get("touchpoint"),
            start,
            score=s.get("nps_score"),
            drivers=list(s.get("drivers") or []),
            why_chain=list(s.get("why_chain") or []),
            reason=s.get("reason"),
            known_issue=s.get("known_issue"),
            issue_resolved=s.get("issue_resolved"),
            score_after=s.get("nps_score_after"),
            outcome=s.get("survey_outcome"),
            why_depth=s.get("why_depth"),
            why_stop=s.get("why_stop"),
            why_driver=s.get("why_driver"),
        )

    def _opening(self, d: _Dialogue, touchpoint, mentions):
        """The first message: a start payload, a greeting, or (sometimes) a
        complaint straight away. False: the comment form opened instead."""
        rng = self.rng
        negatives = [m for m in mentions if m[1] == "neg"]
        if touchpoint and rng.random() < 0.8:
            text = f'/start{{"touchpoint":"{touchpoint}"}}'
            return d.start(text, "start", touchpoint)
        if negatives and rng.random() < 0.05:
            driver, pol = negatives[0]
            phrase = self._phrase(driver, pol)
            return d.start(phrase, "feedback", None, [(phrase, driver, pol)])
        greeting = rng.choice(GREETINGS)
        return d.start(greeting, "start" if greeting.startswith("/") else "greet", None)

    # -- the whole store -------------------------------------------------
    def conversations(self, count: int):
        """Yield (rows, plans) per conversation in time order."""
        rng = self.rng
        # More conversations lately, as the bot is rolled out to more channels.
        starts = sorted(self.start + self.span * math.sqrt(rng.random()) for _ in range(count))
        customers: list[tuple[str, str, float | None]] = []  # sender, channel, last survey
        for start in starts:
            if customers and rng.random() < 0.12:
                idx = rng.randrange(len(customers))
                sender_id, channel, last = customers[idx]
            else:
                channel = _pick(rng, CHANNELS)
                sender_id, last, idx = _sender_id(rng, channel), None, None
            w = rasa_events.EventWriter(
                sender_id,
                channel,
                start,
                tick=lambda: rng.uniform(0.01, 0.3),
                new_id=lambda: uuid.UUID(int=rng.getrandbits(128)).hex,
            )
            d = _Dialogue(self.bot, rng, w)
            if last is not None:
                d.slots["last_survey_at"] = last
            d.session_start()
            touchpoint = _pick(rng, TOUCHPOINTS)
            mentions, uncaught, score = self._situation(touchpoint, start)
            age = self.end - start
            roll = rng.random()
            turns, stop_at = None, None
            if age < 2 * DAY and roll < 0.5:
                turns = rng.randint(0, 5)  # still talking
            elif roll < 0.04:
                turns = rng.randint(0, 4)  # walked away
            elif roll < 0.12:
                stop_at = rng.randint(1, 3)
            plans: list[Plan] = []
            try:
                if not self._opening(d, touchpoint, mentions):
                    d.comment(rng.choice(EXTRA_COMMENTS))
                    yield w.rows, []
                    continue
                if rng.random() < 0.01:
                    # Started over with /restart: the first survey stays abandoned.
                    d.turns_left = rng.randint(0, 2)
                    try:
                        self.survey(d, score, mentions, uncaught, None)
                    except _Silent:
                        pass
                    d.turns_left = None
                    plans.append(self._plan(d, sender_id, channel, start))
                    d.restart()
                    mentions, uncaught, score = self._situation(touchpoint, start)
                d.turns_left = turns
                self.survey(d, None if rng.random() < 0.04 else score, mentions, uncaught, stop_at)
            except _Silent:
                pass
            plan = self._plan(d, sender_id, channel, start)
            plan.restarted = bool(plans)
            plans.append(plan)
            entry = (sender_id, channel, d.slots.get("last_survey_at", last))
            if idx is None:
                customers.append(entry)
            else:
                customers[idx] = entry
            yield w.rows, plans


class EmployeeGenerator:
    """Employees' mirror surveys, from a random stream of their own (so that
    adding or removing employees leaves the customers exactly as they were)."""

    def __init__(self, gen: Generator, seed: int):
        self.gen = gen
        self.bot = gen.bot
        self.rng = random.Random(f"employees-{seed}")
        self.stores = [(tp, w) for tp, w in TOUCHPOINTS if tp is not None]
        total = sum(w for _, w in self.stores)
        self.stores = [(tp, w / total) for tp, w in self.stores]

    def waves(self) -> list[tuple[str, float, float]]:
        """(label, start, end) of each wave: the month of the period's end,
        and every WAVE_EVERY_MONTHS months before it within the period."""
        last = dt.datetime.fromtimestamp(self.gen.end, tz=dt.timezone.utc)
        out = []
        year, month = last.year, last.month
        while True:
            first = dt.datetime(year, month, 1, tzinfo=dt.timezone.utc).timestamp()
            nxt = dt.datetime(
                year + month // 12, month % 12 + 1, 1, tzinfo=dt.timezone.utc
            ).timestamp()
            if first < self.gen.start:
                break  # a wave only in a month the whole period covers
            finish = min(nxt, self.gen.end)
            if finish - first >= MIN_WAVE_DAYS * DAY:
                out.append((f"{year:04d}-{month:02d}", first, finish))
            month -= WAVE_EVERY_MONTHS
            while month < 1:
                month += 12
                year -= 1
        return sorted(out)

    def _phrase(self, pool: list[str], polarity: str) -> tuple[str, list]:
        driver = self.rng.choice(
            [d for d in pool if d in self.bot.catalogue] or self.gen.driver_ids
        )
        phrases = PHRASES.get(driver, {}).get(polarity) or [
            self.gen._phrase(driver, polarity, self.rng)
        ]
        phrase = self.rng.choice(phrases)
        return self.rng.choice(EMPLOYEE_OPENERS) + phrase, [(phrase, driver, polarity)]

    def conversations(self, count: int):
        """Yield (rows, plan) per employee survey, in time order."""
        rng = self.rng
        waves = self.waves()
        if not waves or count <= 0:
            return
        starts = []
        for i in range(count):
            _label, begin, finish = waves[i % len(waves)]
            starts.append((rng.uniform(begin, finish), waves[i % len(waves)][0]))
        for start, wave in sorted(starts):
            store = _pick(rng, self.stores)
            sender_id = uuid.UUID(int=rng.getrandbits(128)).hex
            w = rasa_events.EventWriter(
                sender_id,
                "socketio",
                start,
                tick=lambda: rng.uniform(0.01, 0.3),
                new_id=lambda: uuid.UUID(int=rng.getrandbits(128)).hex,
            )
            d = _Dialogue(self.bot, rng, w)
            d.session_start()
            # Not a real signature: the generator writes what the bot stores
            # after accepting a link, and nothing reads the token back.
            token = uuid.UUID(int=rng.getrandbits(128)).hex
            plan = EmployeePlan(sender_id, store, wave, start)
            try:
                if rng.random() < 0.05:
                    d.turns_left = rng.randint(0, 3)  # walked away
                d.start_employee(token, store, wave)
                self.survey(d, store)
            except _Silent:
                pass
            s = d.slots
            plan.predicted_score = s.get("predicted_score")
            plan.drivers = list(s.get("employee_drivers") or [])
            plan.why_chain = list(s.get("why_chain") or [])
            plan.outcome = s.get("survey_outcome")
            yield w.rows, plan

    def survey(self, d: _Dialogue, store: str) -> None:
        rng = self.rng
        question = d.slots.get("requested_slot")
        first_why = True
        while question is not None:
            if question == "predicted_score":
                score = int(min(10, max(0, round(rng.gauss(PREDICTED_MEAN, PREDICTED_SD)))))
                text = rng.choice(PREDICTED_TEXTS).format(s=score, w=NUMBER_WORDS[score])
                question = d.answer(text, "give_score")
            elif question == "predicted_praise":
                text, said = self._phrase(EMPLOYEE_PRAISE.get(store, []), "pos")
                question = d.answer(text, "feedback", said)
            elif question == "predicted_complaint":
                text, said = self._phrase(EMPLOYEE_COMPLAINTS.get(store, []), "neg")
                question = d.answer(text, "feedback", said)
            elif question == "why_answer":
                text, intent, said = self.gen._why(d, first_why, rng)
                first_why = False
                question = d.answer(text, intent, said)
            elif question == "proposed_fix":
                question = d.answer(rng.choice(PROPOSED_FIXES), "feedback")
            else:
                raise DomainDrift(f"the generator cannot answer the employee's {question!r}")
        d.finish()


def employee_count(conversations: int, employees: int | None, bot: BotModel) -> int:
    """How many employee surveys to write: `employees` when given; by
    default one per CUSTOMERS_PER_EMPLOYEE conversations, when the bot has
    the employees' survey at all."""
    if employees is not None:
        if employees > 0 and not bot.has_employees:
            raise DomainDrift("slot 'role' is not in the domain: the bot has no employee survey")
        return employees
    return conversations // CUSTOMERS_PER_EMPLOYEE if bot.has_employees else 0


def generate(
    engine: Engine,
    conversations: int,
    seed: int,
    end: float | None = None,
    months: int = 18,
    batch_rows: int = 50_000,
    bot: BotModel | None = None,
    employees: int | None = None,
    employee_plans: list | None = None,
) -> list[Plan]:
    """Write `conversations` conversations into `engine`'s events table
    (created if missing) and return the planned surveys; then `employees`
    employees' surveys (None: see employee_count), whose plans are appended
    to `employee_plans` when given. The customers are the same whatever the
    number of employees (their events come first, from their own stream)."""
    if end is None:
        end = dt.datetime.now(dt.timezone.utc).timestamp()
    tracker_source.create_events_table(engine)
    gen = Generator(seed, end, months, bot)
    staff = employee_count(conversations, employees, gen.bot)
    plans: list[Plan] = []
    pending: list[dict] = []
    with engine.begin() as conn:
        for rows, planned in gen.conversations(conversations):
            pending.extend(rows)
            plans.extend(planned)
            if len(pending) >= batch_rows:
                rasa_events.write(conn, pending)
                pending = []
        for rows, plan in EmployeeGenerator(gen, seed).conversations(staff):
            pending.extend(rows)
            if employee_plans is not None:
                employee_plans.append(plan)
            if len(pending) >= batch_rows:
                rasa_events.write(conn, pending)
                pending = []
        rasa_events.write(conn, pending)
    if engine.dialect.name == "postgresql":
        # A real store has been analysed by autovacuum long ago; without
        # statistics the planner would scan the whole table to find a sender.
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE events"))
    return plans
