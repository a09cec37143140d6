"""Rule-based topic tagging, evidence and topic versions (newsmon.topics)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from newsmon.documents import read_documents
from newsmon.errors import ConfigError, TopicDefinitionError
from newsmon.models import Document
from newsmon.topics import Topic, compile_term_list, load_topics, score_hits, tag_document, tag_documents

MakeDocument = Callable[..., Document]

CUSTOM_TOPICS = """
# custom topics for tests
[topics.sanctions]
name = "Sanctions"
exclude = ["iran"]

[[topics.sanctions.rules]]
terms = ["sanction*"]
context = ["russia*", "moscow"]

[topics.lab-leak]
name = "Lab leak"

[[topics.lab-leak.rules]]
terms = ["lab leak", "gain-of-function"]
exclude = ["chemistry"]

[topics.summits]
name = "Summits"

[[topics.summits.rules]]
terms = ["summit"]
"""


@pytest.fixture(scope="module")
def default_topics(default_topics_file: Path) -> list[Topic]:
    return load_topics(default_topics_file)


@pytest.fixture
def custom_topics(tmp_path: Path) -> list[Topic]:
    path = tmp_path / "topics.toml"
    path.write_text(CUSTOM_TOPICS, encoding="utf-8")
    return load_topics(path)


def topics_of(doc: Document, topics: list[Topic]) -> list[str]:
    return [t.topic for t in tag_document(doc, topics)]


# --- the seeds ----------------------------------------------------------------------------


def test_seed_tags(seeds_dir: Path, now: datetime, default_topics: list[Topic]) -> None:
    first, second = read_documents(seeds_dir, now).documents
    assert topics_of(first, default_topics) == ["central-asia-diplomacy", "russia-sanctions", "covid-origins"]
    assert topics_of(second, default_topics) == ["central-asia-diplomacy", "russia-sanctions"]


def test_seed_evidence_is_a_sentence_of_the_document(
    seeds_dir: Path, now: datetime, default_topics: list[Topic]
) -> None:
    docs = read_documents(seeds_dir, now).documents
    tags = tag_documents(docs, default_topics)
    assert len(tags) == 5
    by_id = {d.id: d for d in docs}
    versions = {t.slug: t.version for t in default_topics}
    for tag in tags:
        doc = by_id[tag.document_id]
        assert tag.evidence
        assert tag.evidence == doc.title or tag.evidence in doc.body
        assert tag.topic_version == versions[tag.topic]
        assert 0.0 < tag.score <= 1.0
        assert tag.clause.startswith("rule ")


def test_post_covid_recovery_seed_sentence_is_not_covid_origins(
    seeds_dir: Path, now: datetime, default_topics: list[Topic]
) -> None:
    second = read_documents(seeds_dir, now).documents[1]
    assert "post-Covid recovery" in second.body
    assert "covid-origins" not in topics_of(second, default_topics)


# --- default topics on single sentences ---------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "topic"),
    [
        ("The economy faces a slow post-Covid recovery, officials said.", "covid-origins"),
        ("The COVID vaccine rollout began in hospitals across Wuhan.", "covid-origins"),
        ("The COVID vaccine campaign slowed the pandemic.", "covid-origins"),
        ("The EU imposed new sanctions on Iran over its nuclear programme.", "russia-sanctions"),
        ("Sanctions on Iran were discussed in Washington.", "russia-sanctions"),
        ("Kazakhstan beat Uzbekistan 2-1 in the football match.", "central-asia-diplomacy"),
        ("Kazakhstan's foreign minister watched the football match in Tashkent.", "central-asia-diplomacy"),
        ("Kazakhstan exported more wheat this year.", "central-asia-diplomacy"),
        ("A lab leak at the chemistry department forced an evacuation.", "covid-origins"),
    ],
)
def test_sentences_that_must_not_be_tagged(
    make_document: MakeDocument, default_topics: list[Topic], sentence: str, topic: str
) -> None:
    assert topic not in topics_of(make_document("d", sentence), default_topics)


@pytest.mark.parametrize(
    ("sentence", "topic"),
    [
        ("Experts revisited the lab-leak theory of the pandemic.", "covid-origins"),
        ("Experts revisited the lab leak theory of the pandemic.", "covid-origins"),
        ("Experts revisited the lab–leak theory of the pandemic.", "covid-origins"),
        ("The report on the origins of COVID-19 was released.", "covid-origins"),
        ("Scientists at the Wuhan Institute of Virology declined to comment.", "covid-origins"),
        ("The US sanctioned Russian banks.", "russia-sanctions"),
        ("New export controls target Moscow’s suppliers.", "russia-sanctions"),
        ("The Kazakh foreign minister visited Beijing.", "central-asia-diplomacy"),
        ("The C5+1 ministers met.", "central-asia-diplomacy"),
        ("UZBEKISTAN AND THE US SIGNED A BILATERAL AGREEMENT.", "central-asia-diplomacy"),
    ],
)
def test_sentences_that_must_be_tagged(
    make_document: MakeDocument, default_topics: list[Topic], sentence: str, topic: str
) -> None:
    assert topic in topics_of(make_document("d", sentence), default_topics)


def test_terms_and_context_must_be_in_the_same_sentence(
    make_document: MakeDocument, default_topics: list[Topic]
) -> None:
    split = make_document("d", "New sanctions were announced on Monday. Russia reacted angrily.")
    assert "russia-sanctions" not in topics_of(split, default_topics)
    together = make_document("d", "New sanctions against Russia were announced on Monday.")
    assert "russia-sanctions" in topics_of(together, default_topics)


def test_title_match_counts_and_is_evidence(make_document: MakeDocument, default_topics: list[Topic]) -> None:
    doc = make_document(
        "d",
        "Nothing here. New sanctions against Russia were announced.",
        title="Sanctions on Russia tightened",
    )
    (tag,) = [t for t in tag_document(doc, default_topics) if t.topic == "russia-sanctions"]
    assert tag.evidence == "Sanctions on Russia tightened"
    assert tag.score == score_hits(1, True)
    body_only = make_document("e", "Nothing here. New sanctions against Russia were announced.", title="Untitled")
    (body_tag,) = [t for t in tag_document(body_only, default_topics) if t.topic == "russia-sanctions"]
    assert body_tag.evidence == "New sanctions against Russia were announced."
    assert body_tag.score < tag.score


def test_evidence_is_the_first_matching_sentence_verbatim(
    make_document: MakeDocument, default_topics: list[Topic]
) -> None:
    body = "Mr. Blinken spoke. The U.S. wants “tough” sanctions on Russia’s banks. Later, more sanctions hit Moscow."
    (tag,) = [t for t in tag_document(make_document("d", body), default_topics) if t.topic == "russia-sanctions"]
    assert tag.evidence == "The U.S. wants “tough” sanctions on Russia’s banks."
    assert tag.score == score_hits(2, False) == 0.75


def test_score_hits() -> None:
    assert score_hits(0, False) == 0.0
    assert score_hits(1, False) == 0.5
    assert score_hits(0, True) == 0.75
    assert score_hits(3, False) == 0.875
    assert score_hits(2, False) < score_hits(3, False) < 1.0


# --- rule semantics on a custom topics file -----------------------------------------------


def test_context_requirement(make_document: MakeDocument, custom_topics: list[Topic]) -> None:
    assert "sanctions" not in topics_of(make_document("d", "New sanctions were announced."), custom_topics)
    assert "sanctions" in topics_of(make_document("d", "New sanctions hit Russia."), custom_topics)


def test_topic_level_exclusion(make_document: MakeDocument, custom_topics: list[Topic]) -> None:
    assert "sanctions" not in topics_of(make_document("d", "Sanctions on Russia and Iran."), custom_topics)


def test_rule_level_exclusion(make_document: MakeDocument, custom_topics: list[Topic]) -> None:
    assert "lab-leak" in topics_of(make_document("d", "The lab leak theory resurfaced."), custom_topics)
    assert "lab-leak" not in topics_of(make_document("d", "A lab leak in the chemistry wing."), custom_topics)


def test_exclusion_only_affects_its_own_sentence(make_document: MakeDocument, custom_topics: list[Topic]) -> None:
    doc = make_document("d", "Iran was mentioned once. Sanctions on Russia were tightened.")
    (tag,) = [t for t in tag_document(doc, custom_topics) if t.topic == "sanctions"]
    assert tag.evidence == "Sanctions on Russia were tightened."


@pytest.mark.parametrize(
    ("sentence", "tagged"),
    [
        ("Sanction Russia now.", True),
        ("The sanctions on Russia held.", True),
        ("Washington sanctioned Russian firms.", True),
        ("Russia faced unsanctioned criticism.", False),
        ("Russia is sanct.", False),
    ],
)
def test_wildcard_matches_any_ending_only(
    make_document: MakeDocument, custom_topics: list[Topic], sentence: str, tagged: bool
) -> None:
    assert ("sanctions" in topics_of(make_document("d", sentence), custom_topics)) is tagged


@pytest.mark.parametrize(
    "sentence",
    [
        "The lab leak theory resurfaced.",
        "The lab-leak theory resurfaced.",
        "The lab — leak theory resurfaced.",
        "The LAB  LEAK theory resurfaced.",
        "Gain of function research was paused.",
        "Gain-of-function research was paused.",
    ],
)
def test_hyphen_and_space_are_equivalent(
    make_document: MakeDocument, custom_topics: list[Topic], sentence: str
) -> None:
    assert "lab-leak" in topics_of(make_document("d", sentence), custom_topics)


def test_terms_match_whole_words_only(make_document: MakeDocument, custom_topics: list[Topic]) -> None:
    assert "summits" in topics_of(make_document("d", "The summit opened."), custom_topics)
    assert "summits" not in topics_of(make_document("d", "The summitry continued."), custom_topics)
    assert "lab-leak" not in topics_of(make_document("d", "The collab leaked nothing."), custom_topics)


def test_compile_term_list_patterns() -> None:
    pattern = compile_term_list(["lab leak", "sanction*", "c5+1"], "test")
    assert pattern.search("the lab-leak idea")
    assert pattern.search("sanctioned")
    assert pattern.search("a c5+1 meeting")
    assert not pattern.search("c5+10")
    assert not pattern.search("lableak")


# --- versions -----------------------------------------------------------------------------


def _versions(path: Path, text: str) -> dict[str, str]:
    path.write_text(text, encoding="utf-8")
    return {t.slug: t.version for t in load_topics(path)}


def test_version_changes_only_for_the_changed_topic(tmp_path: Path) -> None:
    path = tmp_path / "topics.toml"
    before = _versions(path, CUSTOM_TOPICS)
    after = _versions(path, CUSTOM_TOPICS.replace('terms = ["summit"]', 'terms = ["summit", "summits"]'))
    assert after["summits"] != before["summits"]
    assert after["sanctions"] == before["sanctions"]
    assert after["lab-leak"] == before["lab-leak"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text.replace("# custom topics for tests", "# a different comment\n\n\n"),
        lambda text: text.replace('terms = ["sanction*"]', 'terms   =   [ "sanction*" ]   # wildcard'),
        lambda text: text.replace('[topics.sanctions]\nname = "Sanctions"', '[topics.sanctions]\nname  =  "Sanctions"'),
    ],
    ids=["comment", "spacing", "spacing-around-key"],
)
def test_version_is_stable_when_the_definition_is_not_changed(tmp_path: Path, edit: Callable[[str], str]) -> None:
    path = tmp_path / "topics.toml"
    before = _versions(path, CUSTOM_TOPICS)
    edited = edit(CUSTOM_TOPICS)
    assert edited != CUSTOM_TOPICS
    assert _versions(path, edited) == before


def test_version_is_stable_when_topics_are_reordered(tmp_path: Path) -> None:
    path = tmp_path / "topics.toml"
    before = _versions(path, CUSTOM_TOPICS)
    head, summits = CUSTOM_TOPICS.split("[topics.summits]")
    assert _versions(path, "[topics.summits]" + summits + "\n" + head) == before


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('exclude = ["iran"]', 'exclude = ["iran", "syria"]'),
        ('context = ["russia*", "moscow"]', 'context = ["russia*"]'),
        ('name = "Sanctions"', 'name = "Sanctions on Russia"'),
    ],
)
def test_version_changes_with_any_definition_change(tmp_path: Path, old: str, new: str) -> None:
    path = tmp_path / "topics.toml"
    before = _versions(path, CUSTOM_TOPICS)
    assert old in CUSTOM_TOPICS
    assert _versions(path, CUSTOM_TOPICS.replace(old, new))["sanctions"] != before["sanctions"]


def test_default_topics_have_versions_and_descriptions(default_topics: list[Topic]) -> None:
    assert [t.slug for t in default_topics] == ["central-asia-diplomacy", "russia-sanctions", "covid-origins"]
    assert len({t.version for t in default_topics}) == 3
    for topic in default_topics:
        assert len(topic.version) == 12
        assert "\n" not in topic.description and topic.description


# --- invalid topic files ------------------------------------------------------------------

INVALID = {
    "missing-rules": ('[topics.no-rules]\nname = "No rules"\n', TopicDefinitionError, "no-rules"),
    "empty-rules": ("[topics.empty-rules]\nrules = []\n", TopicDefinitionError, "empty-rules"),
    "unknown-topic-key": (
        '[topics.typo-topic]\nnam = "Typo"\n[[topics.typo-topic.rules]]\nterms = ["x"]\n',
        TopicDefinitionError,
        "typo-topic",
    ),
    "unknown-rule-key": (
        '[topics.typo-rule]\n[[topics.typo-rule.rules]]\nterms = ["x"]\ncontxt = ["y"]\n',
        TopicDefinitionError,
        "typo-rule",
    ),
    "empty-terms": (
        "[topics.empty-terms]\n[[topics.empty-terms.rules]]\nterms = []\n",
        TopicDefinitionError,
        "empty-terms",
    ),
    "no-terms": ('[topics.no-terms]\n[[topics.no-terms.rules]]\ncontext = ["x"]\n', TopicDefinitionError, "no-terms"),
    "blank-term": (
        '[topics.blank-term]\n[[topics.blank-term.rules]]\nterms = ["ok", "  "]\n',
        TopicDefinitionError,
        "blank-term",
    ),
    "lone-wildcard": (
        '[topics.lone-star]\n[[topics.lone-star.rules]]\nterms = ["*"]\n',
        TopicDefinitionError,
        "lone-star",
    ),
    "terms-as-string": (
        '[topics.string-terms]\n[[topics.string-terms.rules]]\nterms = "sanction*"\n',
        TopicDefinitionError,
        "string-terms",
    ),
    "exclude-as-string": (
        '[topics.string-exclude]\nexclude = "football"\n[[topics.string-exclude.rules]]\nterms = ["x"]\n',
        TopicDefinitionError,
        "string-exclude",
    ),
    "bad-slug": ('[topics."Bad Slug"]\n[[topics."Bad Slug".rules]]\nterms = ["x"]\n', TopicDefinitionError, "Bad Slug"),
    "invalid-toml": ("[topics.broken\nterms = [\n", ConfigError, "not valid TOML"),
    "no-topics-table": ('title = "x"\n', ConfigError, "no [topics."),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_topic_files(tmp_path: Path, case: str) -> None:
    text, error, named = INVALID[case]
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(error) as info:
        load_topics(path)
    message = str(info.value)
    assert named in message
    assert str(path) in message
    assert "\n" not in message


def test_topic_definition_error_is_a_config_error() -> None:
    assert issubclass(TopicDefinitionError, ConfigError)


def test_missing_topics_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_topics(tmp_path / "nope.toml")


def test_one_bad_topic_fails_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "topics.toml"
    path.write_text(CUSTOM_TOPICS + "\n[topics.broken]\nrules = []\n", encoding="utf-8")
    with pytest.raises(TopicDefinitionError, match="broken"):
        load_topics(path)
