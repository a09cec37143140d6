-- newsmon schema, version 1. Tables are internal: query the v_* views instead.
-- Every row carries the id of the run that wrote it (runs.id = the Prefect flow run id).

CREATE TABLE runs (
    id              VARCHAR PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    status          VARCHAR NOT NULL,          -- running | completed | failed
    input           VARCHAR,                   -- what the run read (e.g. the seeds folder)
    newsmon_version VARCHAR NOT NULL,
    error           VARCHAR
);

CREATE TABLE run_stages (
    run_id    VARCHAR NOT NULL,
    stage     VARCHAR NOT NULL,                -- ingest | dedupe | tag | store | alert
    items_in  BIGINT NOT NULL DEFAULT 0,
    items_out BIGINT NOT NULL DEFAULT 0,
    skipped   BIGINT NOT NULL DEFAULT 0,
    seconds   DOUBLE NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, stage)
);

CREATE TABLE documents (
    id                VARCHAR PRIMARY KEY,     -- hash of url: the natural key
    url               VARCHAR NOT NULL,        -- page URL, or file: URI for files
    source            VARCHAR NOT NULL,        -- channel: feed name, or the input folder's name
    source_kind       VARCHAR NOT NULL,        -- file | feed
    title             VARCHAR NOT NULL,
    body              VARCHAR NOT NULL,        -- boilerplate removed
    author            VARCHAR,
    origin            VARCHAR,                 -- original publisher named in the text
    published_at      TIMESTAMPTZ,
    first_seen_at     TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    content_hash      VARCHAR NOT NULL,        -- sha256 of the raw input
    text_hash         VARCHAR NOT NULL,        -- sha256 of the normalized title and body
    extractor         VARCHAR NOT NULL,        -- e.g. newsmon-text/1, trafilatura/2.3.1
    charset           VARCHAR,
    boilerplate_lines INTEGER NOT NULL DEFAULT 0,
    run_id            VARCHAR NOT NULL,        -- run that first stored the document
    updated_run_id    VARCHAR NOT NULL         -- run that last changed it
);
CREATE INDEX documents_text_hash ON documents (text_hash);

CREATE TABLE document_signatures (
    document_id VARCHAR PRIMARY KEY,
    minhash     BLOB NOT NULL,                 -- 128 little-endian uint32 values
    run_id      VARCHAR NOT NULL
);

CREATE TABLE lsh_bands (
    band        SMALLINT NOT NULL,
    band_hash   BIGINT NOT NULL,
    document_id VARCHAR NOT NULL,
    PRIMARY KEY (band, band_hash, document_id)
);

CREATE TABLE stories (
    id                    VARCHAR PRIMARY KEY,
    canonical_document_id VARCHAR NOT NULL,    -- earliest document of the story
    first_seen_at         TIMESTAMPTZ NOT NULL,
    run_id                VARCHAR NOT NULL
);

CREATE TABLE story_members (
    document_id         VARCHAR PRIMARY KEY,
    story_id            VARCHAR NOT NULL,
    similarity          DOUBLE NOT NULL,       -- estimated Jaccard to the canonical document
    method              VARCHAR NOT NULL,      -- new | exact | minhash
    run_id              VARCHAR NOT NULL,
    assigned_at         TIMESTAMPTZ NOT NULL
);

CREATE TABLE topic_versions (
    topic         VARCHAR NOT NULL,
    version       VARCHAR NOT NULL,            -- hash of the definition
    name          VARCHAR NOT NULL,
    description   VARCHAR NOT NULL,
    definition    VARCHAR NOT NULL,            -- canonical JSON of the definition
    is_current    BOOLEAN NOT NULL,            -- in force at the latest run
    first_seen_at TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR NOT NULL,
    PRIMARY KEY (topic, version)
);

CREATE TABLE document_topics (
    document_id   VARCHAR NOT NULL,
    topic         VARCHAR NOT NULL,
    topic_version VARCHAR NOT NULL,
    score         DOUBLE NOT NULL,
    evidence      VARCHAR NOT NULL,            -- the sentence that triggered the tag
    clause        VARCHAR NOT NULL,            -- the rule that matched
    run_id        VARCHAR NOT NULL,
    tagged_at     TIMESTAMPTZ NOT NULL,
    alert_id      VARCHAR,                     -- NULL: not yet alerted; 'backfill': re-tag of old news
    PRIMARY KEY (document_id, topic, topic_version)
);

CREATE TABLE alerts (
    id             VARCHAR PRIMARY KEY,
    run_id         VARCHAR NOT NULL,
    topic          VARCHAR NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    document_count INTEGER NOT NULL,
    story_count    INTEGER NOT NULL,
    markdown       VARCHAR NOT NULL,
    path           VARCHAR
);
