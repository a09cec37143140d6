"""Topic tagging with user-editable rules (``topics.toml``).

A topic is a set of rules; a rule matches a sentence when one of its ``terms`` and (if
given) one of its ``context`` words occur in it and no ``exclude`` word does. Each tag keeps
its score, the sentence that triggered it (evidence), the rule that matched (clause) and the
topic's version: a hash of its definition, so tags made by an older definition are never
mixed with current ones.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsmon.errors import ConfigError, TopicDefinitionError
from newsmon.models import Document, Tag
from newsmon.text import normalize_for_match, sha256_hex, split_sentences

log = logging.getLogger(__name__)

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TOPIC_KEYS = frozenset({"name", "description", "exclude", "rules", "examples"})
_RULE_KEYS = frozenset({"terms", "context", "exclude"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule of a topic."""

    terms: re.Pattern[str]
    context: re.Pattern[str] | None
    exclude: re.Pattern[str] | None
    label: str

    def matches(self, sentence: str) -> bool:
        """True if this rule fires on one normalized sentence."""
        if not self.terms.search(sentence):
            return False
        if self.context is not None and not self.context.search(sentence):
            return False
        return self.exclude is None or not self.exclude.search(sentence)


@dataclass(frozen=True, slots=True)
class Topic:
    """A compiled topic definition."""

    slug: str
    name: str
    description: str
    version: str
    rules: tuple[Rule, ...]
    definition: str  # canonical JSON of the source definition

    def may_match(self, text: str) -> bool:
        """Cheap pre-check on a whole normalized text: could any rule match one of its sentences?"""
        return any(rule.terms.search(text) for rule in self.rules)

    def first_rule_matching(self, sentence: str) -> Rule | None:
        """The first rule that fires on a normalized sentence, if any."""
        return next((r for r in self.rules if r.matches(sentence)), None)


def compile_term_list(terms: Iterable[str], where: str) -> re.Pattern[str]:
    """Compile terms into one case-insensitive pattern with word boundaries.

    ``*`` at the end of a word matches any ending; spaces and hyphens inside a phrase match
    either. Raises :class:`TopicDefinitionError` on an empty list or term, on a single string
    instead of a list, and on a term without a word (such as a lone ``*``, which would match
    every sentence).
    """
    if isinstance(terms, str):
        raise TopicDefinitionError(f"{where}: must be a list of terms, not one string: write [{terms!r}]")
    parts: list[str] = []
    for term in terms:
        if not isinstance(term, str) or not term.strip():
            raise TopicDefinitionError(f"{where}: empty or non-text term {term!r}: remove it")
        words = [w for w in re.split(r"[\s\-]+", normalize_for_match(term)) if w]
        if not words or any(not w.rstrip("*") for w in words):
            raise TopicDefinitionError(f"{where}: term {term!r} has no word to match ('*' only ends a word): fix it")
        pieces = [re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w) for w in words]
        parts.append(r"[\s\-]+".join(pieces))
    if not parts:
        raise TopicDefinitionError(f"{where}: the term list is empty: add at least one term")
    parts.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


def load_topics(path: Path) -> list[Topic]:
    """Read and compile every topic of a topics TOML file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(f"topics file {path} does not exist: create it or fix the path") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"topics file {path} is not valid TOML ({err}): fix it") from err
    tables = raw.get("topics")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"topics file {path} has no [topics.<name>] table: add one")
    return [compile_topic(slug, spec, f"{path}: topic {slug!r}") for slug, spec in tables.items()]


def compile_topic(slug: str, spec: Any, where: str) -> Topic:
    """Compile one topic definition (a TOML table) into a :class:`Topic`."""
    if not _SLUG.match(slug):
        raise TopicDefinitionError(f"{where}: name must be lower-case letters, digits, - or _")
    if not isinstance(spec, dict):
        raise TopicDefinitionError(f"{where}: must be a table")
    unknown = set(spec) - _TOPIC_KEYS
    if unknown:
        raise TopicDefinitionError(f"{where}: unknown key(s) {sorted(unknown)}: use {sorted(_TOPIC_KEYS)}")
    rules_spec = spec.get("rules")
    if not isinstance(rules_spec, list) or not rules_spec:
        raise TopicDefinitionError(f"{where}: needs at least one [[topics.{slug}.rules]] table")
    topic_exclude = _term_list(spec.get("exclude", []), f"{where} exclude")
    rules = tuple(_compile_rule(rule, topic_exclude, where, i + 1) for i, rule in enumerate(rules_spec))
    definition = json.dumps({"slug": slug, **spec}, sort_keys=True, ensure_ascii=False)
    return Topic(
        slug=slug,
        name=str(spec.get("name", slug)),
        description=" ".join(str(spec.get("description", "")).split()),
        version=sha256_hex(definition)[:12],
        rules=rules,
        definition=definition,
    )


def _compile_rule(spec: Any, topic_exclude: list[str], topic_where: str, number: int) -> Rule:
    where = f"{topic_where} rule {number}"
    if not isinstance(spec, dict):
        raise TopicDefinitionError(f"{where}: must be a table")
    unknown = set(spec) - _RULE_KEYS
    if unknown:
        raise TopicDefinitionError(f"{where}: unknown key(s) {sorted(unknown)}: use {sorted(_RULE_KEYS)}")
    terms = spec.get("terms") or []
    context = spec.get("context")
    exclude = topic_exclude + _term_list(spec.get("exclude", []), f"{where} exclude")
    label = "terms" + (" + context" if context else "") + (" - exclude" if exclude else "")
    return Rule(
        terms=compile_term_list(terms, f"{where} terms"),
        context=compile_term_list(context, f"{where} context") if context else None,
        exclude=compile_term_list(exclude, f"{where} exclude") if exclude else None,
        label=f"rule {number}: {label}",
    )


def _term_list(value: Any, where: str) -> list[str]:
    """An optional term list as given in the file; a single string is an error, not letters."""
    if not isinstance(value, list):
        raise TopicDefinitionError(f'{where}: must be a list of terms such as ["word"], not {value!r}')
    return value


def score_hits(body_hits: int, title_hit: bool) -> float:
    """Score in [0, 1): 0.5 for one matching sentence, each further one halves the rest."""
    weight = body_hits + (2 if title_hit else 0)
    return round(1.0 - 0.5**weight, 4) if weight else 0.0


def tag_document(document: Document, topics: Sequence[Topic]) -> list[Tag]:
    """Tag one document with every topic whose rules match; evidence is the first hit."""
    title = normalize_for_match(document.title)
    body = normalize_for_match(document.body)
    sentences: list[tuple[str, str]] | None = None  # split only if some topic's terms occur
    tags: list[Tag] = []
    for topic in topics:
        title_rule = topic.first_rule_matching(title) if title else None
        if not topic.may_match(body):
            if title_rule is None:
                continue
            hits: list[tuple[str, Rule]] = []
        else:
            if sentences is None:
                sentences = [(s, normalize_for_match(s)) for s in split_sentences(document.body)]
            hits = [(orig, rule) for orig, norm in sentences if (rule := topic.first_rule_matching(norm))]
        if title_rule is None and not hits:
            continue
        evidence, rule = (document.title, title_rule) if title_rule else hits[0]
        assert rule is not None
        tags.append(
            Tag(
                document_id=document.id,
                topic=topic.slug,
                topic_version=topic.version,
                score=score_hits(len(hits), title_rule is not None),
                evidence=evidence,
                clause=rule.label,
            )
        )
    return tags


def tag_documents(documents: Iterable[Document], topics: Sequence[Topic]) -> list[Tag]:
    """Tag a batch of documents."""
    return [tag for doc in documents for tag in tag_document(doc, topics)]
