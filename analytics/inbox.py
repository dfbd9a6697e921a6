"""The trainers' inbox: what the bot did not understand, as NLU lines to label.

    python -m analytics.inbox --db URL [--out DIR] [--since-event-id N]   (make inbox)

Reads the tracker store (read only) from the event after the last export
(var/inbox.json) and writes

- ``<out>/<YYYY-MM-DD>.yml`` (UTC date): the customers' and employees'
  messages the bot did not understand, in Rasa's NLU format (version "3.1",
  ``examples`` as a list of ``{text, metadata}``), one line per message
  text (same words = one line, counted), most frequent first, under the
  suggested intent and with the suggested drivers annotated in the text
  (``[kurier]{"entity": "delivery", "role": "neg"}``), so that a trainer can
  move a line into data/nlu as it is once it is right;
- ``<out>/<YYYY-MM-DD>.known_issues.yml``: the fixes employees proposed, as
  candidate known issues in data/known_issues.yml's shape, grouped by driver
  and counted.

A second export on the same day adds to that day's files (counts summed).
Nothing new since the last export: nothing is written, and it says so.

What "not understood" means (docs/trainers.md, "The inbox"), per user message:

- ``fallback``: its intent was ``nlu_fallback``, or the bot answered it with
  ``action_nps_fallback`` / the ``utter_default`` response;
- ``low_confidence``: its intent's confidence was under the
  FallbackClassifier threshold of config.yml (0.4);
- ``why_no_driver``: it answered a why-question (``requested_slot`` was
  ``why_answer``), it was not a "done" or "stop" kind of answer, and no
  driver was found: neither by ``nps.understanding.find_drivers`` over its
  text and the model's entities, nor in the ``drivers`` /
  ``employee_drivers`` slots the bot set after it (no new tag);
- ``clarification``: the bot's ``clarify_count`` went up after it (it asked
  again).

Payloads (``/start…``) and pictures (``non_text``) are skipped, and so are
the dashboard's test chats. Privacy: e-mail addresses, phone numbers and
long digit runs are masked (nps.text_privacy) before anything is grouped or
written; no sender id, event id or time is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine

from analytics import tracker_source
from analytics.db import AnalyticsError, tracker_engine
from analytics.segments import counted
from nps import check, lemmas, understanding
from nps.drivers import NEGATIVE, POSITIVE, split_tag
from nps.settings import REPO_ROOT, load_settings
from nps.text_privacy import mark_spans, mask

FALLBACK = "fallback"
LOW_CONFIDENCE = "low_confidence"
WHY_NO_DRIVER = "why_no_driver"
CLARIFICATION = "clarification"
REASONS = (FALLBACK, LOW_CONFIDENCE, WHY_NO_DRIVER, CLARIFICATION)

FALLBACK_ACTION = "action_nps_fallback"
DEFAULT_RESPONSE = "utter_default"
FALLBACK_INTENT = "nlu_fallback"
# config.yml's FallbackClassifier threshold, when config.yml does not say.
DEFAULT_THRESHOLD = 0.4
WHY_SLOT = "why_answer"
# A why-answer of these intents says it has nothing more to say ("nie wiem",
# "koniec"...): no driver is expected in it.
NO_CONTENT_INTENTS = frozenset(
    {
        "done",
        "stop",
        "deny",
        "affirm",
        "thanks",
        "greet",
        "start",
        "restart",
        "erase_data",
        "bot_challenge",
        "non_text",
    }
)
SKIPPED_INTENTS = frozenset({"non_text"})
EMPLOYEE = "employee"
CUSTOMER = "customer"
# The polarity a question implies, for the suggested drivers' roles.
QUESTION_POLARITY = {
    "valued_most": POSITIVE,
    "predicted_praise": POSITIVE,
    "improvement": NEGATIVE,
    WHY_SLOT: NEGATIVE,
    "predicted_complaint": NEGATIVE,
}
# Slots whose changes the export follows.
STATE_SLOTS = (
    tracker_source.REQUESTED_SLOT,
    "clarify_count",
    "drivers",
    "employee_drivers",
    "role",
    "proposed_fix",
    "touchpoint",
    "nps_group",
)
TAG_SLOTS = ("drivers", "employee_drivers")
# The nearest training example counts as a suggestion from this similarity up.
MIN_SIMILARITY = 0.5
STATE_FILE = REPO_ROOT / "var" / "inbox.json"
KNOWN_ISSUES_SUFFIX = check.INBOX_KNOWN_ISSUES_SUFFIX


# --- reading the tracker store ----------------------------------------------------


@dataclass
class Message:
    """One user message and what the bot made of it."""

    event_id: int
    timestamp: float | None
    text: str
    intent: str | None
    confidence: float | None
    entities: list
    requested: str | None  # the question pending when it came
    context: str | None  # the polarity that question implies
    role: str = CUSTOMER
    reasons: set = field(default_factory=set)
    new_tags: bool = False

    @property
    def answer(self) -> bool:
        """It answered a survey question (customer or employee)."""
        return self.requested is not None

    @property
    def not_understood(self) -> bool:
        return bool(self.reasons)


@dataclass
class Candidate:
    """A fix an employee proposed."""

    fix: str
    tags: list[str]
    touchpoint: str | None


@dataclass
class Scan:
    messages: list[Message]
    candidates: list[Candidate]
    after_id: int
    upto_id: int


@dataclass
class _Segment:
    slots: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    pending: Message | None = None
    fix_event: int = 0


def fallback_threshold(config: Path = REPO_ROOT / "config.yml") -> float:
    """The FallbackClassifier threshold of config.yml (default 0.4)."""
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return DEFAULT_THRESHOLD
    for item in data.get("pipeline") or []:
        if isinstance(item, dict) and item.get("name") == "FallbackClassifier":
            return float(item.get("threshold", DEFAULT_THRESHOLD))
    return DEFAULT_THRESHOLD


def _data(raw: str | None) -> dict:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _int(value: Any) -> int:
    try:
        return int(float(value or 0))
    except (TypeError, ValueError):
        return 0


def _tags(value: Any) -> set[str]:
    if isinstance(value, str):
        value = [value]
    return {str(v) for v in value} if isinstance(value, (list, tuple)) else set()


def _context(requested: str | None, slots: dict) -> str | None:
    if requested == "reason":
        return POSITIVE if slots.get("nps_group") == "promoter" else NEGATIVE
    return QUESTION_POLARITY.get(requested or "")


def _query(senders: Sequence[str], upto_id: int):
    e = tracker_source.events
    return (
        sa.select(e.c.id, e.c.sender_id, e.c.type_name, e.c.timestamp, e.c.action_name, e.c.data)
        .where(
            e.c.sender_id.in_(list(senders)),
            e.c.id <= upto_id,
            sa.or_(
                e.c.type_name.in_(("user", "bot", "reset_slots", *tracker_source.BOUNDARY_TYPES)),
                sa.and_(e.c.type_name == "slot", e.c.action_name.in_(STATE_SLOTS)),
                sa.and_(e.c.type_name == "action", e.c.action_name == FALLBACK_ACTION),
            ),
        )
        .order_by(e.c.sender_id, e.c.id)
    )


def _rows(engine: Engine, after_id: int, upto_id: int, batch: int = 500) -> Iterator[tuple]:
    """Every event the export follows of the senders active after after_id,
    their earlier events included (the question pending, the count of
    clarifications so far), grouped by sender, in id order."""
    senders = [s for s in tracker_source.changed_senders(engine, after_id, upto_id) if counted(s)]
    for i in range(0, len(senders), batch):
        with engine.connect() as conn:
            yield from conn.execute(_query(senders[i : i + batch], upto_id))


class Reader:
    """Turns a sender's events into Messages, flagged by the rules above."""

    def __init__(self, und: understanding.Understanding, threshold: float):
        self.und = und
        self.threshold = threshold

    def judge(self, msg: Message) -> None:
        if msg.intent == FALLBACK_INTENT:
            msg.reasons.add(FALLBACK)
        elif msg.confidence is not None and msg.confidence < self.threshold:
            msg.reasons.add(LOW_CONFIDENCE)
        if (
            msg.requested == WHY_SLOT
            and msg.intent not in NO_CONTENT_INTENTS
            and not msg.new_tags
            and not understanding.find_drivers(msg.text, msg.entities, self.und, NEGATIVE)
        ):
            msg.reasons.add(WHY_NO_DRIVER)

    def scan(self, engine: Engine, after_id: int, upto_id: int) -> Scan:
        messages: list[Message] = []
        candidates: list[Candidate] = []
        segment = _Segment()
        sender = None

        def close(seg: _Segment) -> None:
            if seg.pending is not None:
                self.judge(seg.pending)
                seg.pending = None
            role = EMPLOYEE if seg.slots.get("role") == EMPLOYEE else CUSTOMER
            for m in seg.messages:
                m.role = role
                if m.event_id > after_id:
                    messages.append(m)
            fix = seg.slots.get("proposed_fix")
            if seg.fix_event > after_id and isinstance(fix, str) and fix.strip():
                tags = sorted(
                    _tags(seg.slots.get("employee_drivers")) or _tags(seg.slots.get("drivers"))
                )
                touchpoint = seg.slots.get("touchpoint")
                candidates.append(
                    Candidate(
                        fix.strip(), tags, touchpoint if isinstance(touchpoint, str) else None
                    )
                )

        for event_id, who, kind, ts, name, raw in _rows(engine, after_id, upto_id):
            if who != sender:
                close(segment)
                segment, sender = _Segment(), who
            if kind in tracker_source.BOUNDARY_TYPES:
                close(segment)
                segment = _Segment()
            elif kind == "reset_slots":
                segment.slots.clear()
            elif kind == "user":
                if segment.pending is not None:
                    self.judge(segment.pending)
                    segment.pending = None
                msg = self._message(event_id, ts, _data(raw), segment.slots)
                if msg is not None:
                    segment.pending = msg
                    segment.messages.append(msg)
            elif kind == "slot":
                value = _data(raw).get("value")
                old = segment.slots.get(name)
                segment.slots[name] = value
                pending = segment.pending
                if name == "proposed_fix" and value:
                    segment.fix_event = event_id
                if pending is None:
                    continue
                if name == "clarify_count" and _int(value) > _int(old):
                    pending.reasons.add(CLARIFICATION)
                elif name in TAG_SLOTS and _tags(value) - _tags(old):
                    pending.new_tags = True
            elif kind == "action" and segment.pending is not None:
                segment.pending.reasons.add(FALLBACK)
            elif kind == "bot" and segment.pending is not None:
                meta = _data(raw).get("metadata") or {}
                if isinstance(meta, dict) and meta.get("utter_action") == DEFAULT_RESPONSE:
                    segment.pending.reasons.add(FALLBACK)
        close(segment)
        return Scan(messages, candidates, after_id, upto_id)

    @staticmethod
    def _message(event_id: int, ts, data: dict, slots: dict) -> Message | None:
        text = data.get("text")
        if not isinstance(text, str) or not text.strip() or text.lstrip().startswith("/"):
            return None
        if (data.get("metadata") or {}).get("is_external"):
            return None  # an intent a case page triggered (EXTERNAL: …), not a person's words
        parse = data.get("parse_data") or {}
        intent = parse.get("intent") or {}
        name = intent.get("name") if isinstance(intent, dict) else None
        if name in SKIPPED_INTENTS:
            return None
        confidence = intent.get("confidence") if isinstance(intent, dict) else None
        entities = parse.get("entities") or []
        requested = slots.get(tracker_source.REQUESTED_SLOT)
        requested = requested if isinstance(requested, str) else None
        return Message(
            event_id=event_id,
            timestamp=ts,
            text=text,
            intent=name if isinstance(name, str) else None,
            confidence=float(confidence) if isinstance(confidence, (int, float)) else None,
            entities=[e for e in entities if isinstance(e, dict)],
            requested=requested,
            context=_context(requested, slots),
        )


# --- suggestions ------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Masked, on one line, without the brackets Rasa reads as entity markup."""
    text = mask(text).translate(str.maketrans("[]{}", "()()"))
    return " ".join(text.split())


def _features(words: Iterable[lemmas.Word]) -> Counter:
    """Lemmas (with their negation mark) and the lemmas' character 3-grams."""
    out: Counter = Counter()
    for w in words:
        lemma = ("nie_" if w.negated else "") + w.lemma
        out["w:" + lemma] += 2
        padded = f"#{w.lemma}#"
        for i in range(len(padded) - 2):
            out["c:" + padded[i : i + 3]] += 1
    return out


def _cosine(a: Counter, b: Counter, norm_b: float) -> float:
    if not a or not norm_b:
        return 0.0
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    norm_a = math.sqrt(sum(v * v for v in a.values()))
    return dot / (norm_a * norm_b) if norm_a else 0.0


@dataclass(frozen=True)
class Suggestion:
    intent: str
    text: str  # with the suggested drivers annotated
    tags: tuple[str, ...]
    by: str  # "training example" | "lexicon" | "nearest example" | "none"
    example: str | None = None  # file:line of the training example it came from
    similarity: float | None = None
    in_training: bool = False  # the same words are a training example already


def annotate(text: str, spans: Iterable[tuple[int, int, str, str | None]]) -> str:
    """The text with [words]{"entity": ..., "role": ...} around each span
    (character offsets; overlapping spans after the first are left out)."""
    out, at = [], 0
    for start, end, entity, role in sorted(spans):
        if start < at or end <= start:
            continue
        spec = {"entity": entity, **({"role": role} if role else {})}
        out += [text[at:start], f"[{text[start:end]}]", json.dumps(spec, ensure_ascii=False)]
        at = end
    out.append(text[at:])
    return "".join(out)


class Suggester:
    """A label for a message: the same training example, else the lexicon's
    drivers, else the nearest training example's intent (and its drivers on
    the words the two share)."""

    def __init__(self, data_dir: Path, und: understanding.Understanding | None = None):
        self.data_dir = Path(data_dir)
        self.und = und or understanding.load(data_dir)
        self.examples = check.training_examples(self.data_dir)
        self.by_key = {}
        for ex in self.examples:
            self.by_key.setdefault(ex.key, ex)
        self.vectors = []
        for ex in self.examples:
            vec = _features(lemmas.analyse(ex.plain))
            self.vectors.append((vec, math.sqrt(sum(v * v for v in vec.values()))))

    def _where(self, ex: check.Example) -> str:
        path = Path(ex.path)
        try:
            path = path.resolve().relative_to(REPO_ROOT)
        except ValueError:
            pass
        return f"{path.as_posix()}:{ex.line}"

    def suggest(self, text: str, context: str | None) -> Suggestion:
        same = self.by_key.get(check.example_key(text))
        if same is not None:
            return Suggestion(
                same.intent,
                same.text,
                tuple(sorted(f"{e}:{r}" if r else e for e, r in same.entities)),
                "training example",
                self._where(same),
                1.0,
                in_training=True,
            )
        masked = mark_spans(text)

        def clear(start: int, end: int) -> bool:
            return not any(start < m_end and m_start < end for m_start, m_end in masked)

        findings = [
            f
            for f in understanding.find_drivers(text, [], self.und, context)
            if clear(f.start, f.end)
        ]
        if findings:
            spans = [(f.start, f.end, f.driver, f.polarity) for f in findings]
            return Suggestion(
                "feedback",
                annotate(text, spans),
                tuple(understanding.tags(findings)),
                "lexicon",
            )
        words = lemmas.analyse(text)
        vec = _features(words)
        best, best_sim = None, 0.0
        for ex, (other, norm) in zip(self.examples, self.vectors, strict=True):
            sim = _cosine(vec, other, norm)
            if sim > best_sim:
                best, best_sim = ex, sim
        if best is None or best_sim < MIN_SIMILARITY:
            return Suggestion(
                "feedback",
                text,
                (),
                "none",
                self._where(best) if best else None,
                round(best_sim, 2) if best else None,
            )
        spans = []
        for span_words, entity, role in best.spans:
            wanted = {w.lemma for w in lemmas.analyse(span_words)} - {"sie"}
            hit = [w for w in words if w.lemma in wanted and clear(w.start, w.end)]
            if hit and len(hit) * 2 >= len(wanted):
                spans.append((hit[0].start, hit[-1].end, entity, role))
        return Suggestion(
            best.intent,
            annotate(text, spans),
            tuple(sorted({f"{e}:{r}" if r else e for _, _, e, r in spans})),
            "nearest example",
            self._where(best),
            round(best_sim, 2),
        )


# --- grouping and writing -----------------------------------------------------------


@dataclass
class Line:
    key: str
    text: str  # cleaned (masked) text of its first message
    count: int = 0
    why: Counter = field(default_factory=Counter)
    roles: Counter = field(default_factory=Counter)
    contexts: Counter = field(default_factory=Counter)


def group(messages: Iterable[Message]) -> list[Line]:
    """Not-understood messages with the same words as one line, most frequent first."""
    lines: dict[str, Line] = {}
    for m in messages:
        if not m.not_understood:
            continue
        text = clean_text(m.text)
        key = check.example_key(text)
        if not key:
            continue
        line = lines.setdefault(key, Line(key, text))
        line.count += 1
        line.why.update(m.reasons)
        line.roles[m.role] += 1
        line.contexts[m.context] += 1
    return sorted(lines.values(), key=lambda ln: (-ln.count, ln.key))


def _ordered(counter: Counter, order: Sequence[str]) -> dict[str, int]:
    return {k: counter[k] for k in order if counter.get(k)}


def entries(lines: Iterable[Line], suggester: Suggester) -> list[dict]:
    """One {intent, text, metadata} per line, with its suggestion."""
    out = []
    for line in lines:
        context = line.contexts.most_common(1)[0][0] if line.contexts else None
        s = suggester.suggest(line.text, context)
        suggested: dict[str, Any] = {"intent": s.intent, "drivers": list(s.tags), "by": s.by}
        if s.example:
            suggested["example"] = s.example
        if s.similarity is not None:
            suggested["similarity"] = s.similarity
        meta: dict[str, Any] = {
            "count": line.count,
            "why": _ordered(line.why, REASONS),
            "from": _ordered(line.roles, (CUSTOMER, EMPLOYEE)),
            "suggested": suggested,
        }
        if s.in_training:
            meta["in_training_data"] = True
        out.append({"intent": s.intent, "text": s.text, "metadata": meta})
    return out


def _merge_counts(a: dict, b: dict) -> dict:
    out = dict(a or {})
    for k, v in (b or {}).items():
        out[k] = out.get(k, 0) + v
    return out


def merge_nlu(existing: dict | None, new: list[dict]) -> list[dict]:
    """Entries of a file written earlier the same day plus the new ones: the
    same words add to the line already there (a trainer's edits kept)."""
    merged: dict[str, dict] = {}
    for block in (existing or {}).get("nlu") or []:
        for item in block.get("examples") or []:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                key = check.example_key(check.parse_example(item["text"])[0])
                merged[key] = {
                    "intent": block.get("intent"),
                    "text": item["text"],
                    "metadata": dict(item.get("metadata") or {}),
                }
    for entry in new:
        key = check.example_key(check.parse_example(entry["text"])[0])
        old = merged.get(key)
        if old is None:
            merged[key] = entry
            continue
        meta = old["metadata"]
        meta["count"] = int(meta.get("count") or 0) + entry["metadata"]["count"]
        for part in ("why", "from"):
            meta[part] = _merge_counts(meta.get(part), entry["metadata"][part])
    return sorted(merged.values(), key=lambda e: (-int(e["metadata"].get("count") or 0), e["text"]))


NLU_HEADER = """\
# The trainers' inbox: messages the bot did not understand (analytics.inbox,
# `make inbox`). NOT training data: Rasa never reads data/inbox. Check each
# line's intent and the drivers marked in its text, correct them, then move
# the line (its text only) into a file of data/nlu and run `make validate`.
# metadata: count = how many messages had these words; why = fallback,
# low_confidence, why_no_driver, clarification; suggested = where the label
# came from (training example, lexicon, nearest example with its similarity,
# none). in_training_data: these words are a training example already (do
# not move them; the model does not fit its own example). Masked: <e-mail>,
# <telefon>, <numer>.
"""

KNOWN_ISSUES_HEADER = """\
# CANDIDATE known issues: fixes employees proposed (analytics.inbox). NOT
# read by the bot. To adopt one, copy it into data/known_issues.yml, give it
# a real id, title and `match:` phrases, rewrite the fix for customers, drop
# `candidate`, `count` and `stores`, then run `make validate`.
"""


def nlu_document(items: list[dict]) -> dict:
    blocks: dict[str, list] = {}
    totals: Counter = Counter()
    for item in items:
        blocks.setdefault(item["intent"], []).append(
            {"text": item["text"], "metadata": item["metadata"]}
        )
        totals[item["intent"]] += int(item["metadata"].get("count") or 0)
    order = sorted(blocks, key=lambda i: (-totals[i], i))
    return {"version": "3.1", "nlu": [{"intent": i, "examples": blocks[i]} for i in order]}


def candidate_issues(candidates: Iterable[Candidate], existing: dict | None = None) -> dict:
    """Proposed fixes grouped by driver (the first negative one the
    employee named), the same words counted once."""
    found: dict[tuple[str, str], dict] = {}
    for item in (existing or {}).get("candidate_known_issues") or []:
        if isinstance(item, dict) and isinstance(item.get("fix"), str):
            found[(str(item.get("driver")), check.example_key(item["fix"]))] = item
    for c in candidates:
        fix = clean_text(c.fix)
        key = check.example_key(fix)
        if not key:
            continue
        negative = [split_tag(t)[0] for t in c.tags if t.endswith(":" + NEGATIVE)]
        driver = negative[0] if negative else (split_tag(c.tags[0])[0] if c.tags else "unknown")
        item = found.get((driver, key))
        if item is None:
            item = found[(driver, key)] = {
                "id": None,
                "candidate": True,
                "driver": driver,
                "title": " ".join(fix.split()[:6]),
                "match": [],
                "fix": fix,
                "count": 0,
                "stores": [],
            }
        item["count"] = int(item.get("count") or 0) + 1
        if c.touchpoint and c.touchpoint not in item["stores"]:
            item["stores"] = sorted([*item["stores"], c.touchpoint])
    items = sorted(found.values(), key=lambda i: (str(i["driver"]), -int(i["count"]), i["fix"]))
    per_driver: Counter = Counter()
    for item in items:
        per_driver[item["driver"]] += 1
        item["id"] = f"candidate_{item['driver']}_{per_driver[item['driver']]}"
    by_driver: Counter = Counter()
    for item in items:
        by_driver[item["driver"]] += int(item["count"])
    items.sort(key=lambda i: (-by_driver[i["driver"]], str(i["driver"]), -int(i["count"])))
    return {"candidate_known_issues": items}


def _dump(header: str, document: dict) -> str:
    return header + yaml.safe_dump(
        document, allow_unicode=True, sort_keys=False, width=10_000, default_flow_style=False
    )


def _load(path: Path) -> dict | None:
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


# --- the export -------------------------------------------------------------------------


@dataclass
class Result:
    after_id: int
    upto_id: int
    messages: int  # not-understood messages in the window
    lines: int  # distinct lines written (new or added to)
    candidates: int
    written: list[Path]


def read_state(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def export(
    db_url: str,
    out_dir: Path,
    data_dir: Path,
    state_path: Path = STATE_FILE,
    since_event_id: int | None = None,
    today: dt.date | None = None,
) -> Result:
    engine = tracker_engine(db_url)
    try:
        tracker_source.check_events_table(engine)
        first, last = tracker_source.event_bounds(engine)
        fingerprint = tracker_source.source_fingerprint(engine, first)
        state = read_state(state_path)
        if since_event_id is not None:
            after = since_event_id
        elif state.get("source") == fingerprint:
            after = int(state.get("last_event_id") or 0)
        else:
            after = 0  # first export, or another (or a recreated) tracker store
        upto = last or 0
        und = understanding.load(data_dir)
        scan = Reader(und, fallback_threshold()).scan(engine, after, upto) if upto > after else None
    finally:
        engine.dispose()
    written: list[Path] = []
    lines: list[Line] = group(scan.messages) if scan else []
    candidates = scan.candidates if scan else []
    day = (today or dt.datetime.now(dt.timezone.utc).date()).isoformat()
    if lines:
        path = out_dir / f"{day}.yml"
        items = merge_nlu(_load(path), entries(lines, Suggester(data_dir, und)))
        out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(NLU_HEADER, nlu_document(items)), encoding="utf-8")
        written.append(path)
    if candidates:
        path = out_dir / f"{day}{KNOWN_ISSUES_SUFFIX}"
        doc = candidate_issues(candidates, _load(path))
        out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(KNOWN_ISSUES_HEADER, doc), encoding="utf-8")
        written.append(path)
    write_state(
        state_path,
        {"source": fingerprint, "last_event_id": max(upto, after), "exported_at": time_now()},
    )
    return Result(
        after,
        max(upto, after),
        sum(line.count for line in lines),
        len(lines),
        len(candidates),
        written,
    )


def time_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(
        prog="python -m analytics.inbox",
        description="Write what the bot did not understand since the last export to data/inbox.",
    )
    parser.add_argument("--db", default=settings.db_url, help="tracker store URL (NPS_DB_URL)")
    parser.add_argument("--out", type=Path, default=settings.data_dir / check.INBOX_DIR)
    parser.add_argument("--since-event-id", type=int, default=None, metavar="N")
    parser.add_argument("--state", type=Path, default=STATE_FILE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        result = export(args.db, args.out, settings.data_dir, args.state, args.since_event_id)
    except AnalyticsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    window = f"events {result.after_id + 1}..{result.upto_id}"
    if result.upto_id <= result.after_id:
        print(f"nothing new since event {result.after_id}: no file written")
        return 0
    if not result.written:
        print(f"{window}: nothing the bot did not understand, no proposed fix: no file written")
        return 0
    print(
        f"{window}: {result.messages} message(s) not understood in {result.lines} line(s), "
        f"{result.candidates} proposed fix(es)"
    )
    for path in result.written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
