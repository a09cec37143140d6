-- Alert digests: what triggered each alert (new stories, a spike against the baseline), its HTML
-- section and the run's HTML page; deliveries of alerts to notification URLs; feeds that went
-- silent. The alert files are written from these rows: the rows are the truth.

ALTER TABLE alerts ADD COLUMN kind VARCHAR DEFAULT 'topic';      -- topic | sources (silent feeds)
ALTER TABLE alerts ADD COLUMN day DATE;                          -- the run's day (UTC) the alert is about
ALTER TABLE alerts ADD COLUMN new_stories INTEGER DEFAULT 0;     -- stories new to the topic in this run
ALTER TABLE alerts ADD COLUMN spike BOOLEAN DEFAULT false;       -- the day's unique stories are a spike
ALTER TABLE alerts ADD COLUMN triggers VARCHAR;                  -- JSON: the numbers behind the alert
ALTER TABLE alerts ADD COLUMN title VARCHAR;                     -- one line, for notifications
ALTER TABLE alerts ADD COLUMN html VARCHAR;                      -- the section of the HTML digest
ALTER TABLE alerts ADD COLUMN digest_path VARCHAR;               -- the run's HTML digest file

CREATE TABLE deliveries (
    alert_id        VARCHAR NOT NULL,
    target          VARCHAR NOT NULL,          -- hash of the notification URL (the URL is not stored)
    target_label    VARCHAR NOT NULL,          -- the URL's scheme and host only
    status          VARCHAR NOT NULL,          -- pending | sending | sent | failed | gave-up | dropped
    attempts        INTEGER NOT NULL,
    last_error      VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL,
    last_attempt_at TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ,
    run_id          VARCHAR NOT NULL,          -- run that made the alert
    last_run_id     VARCHAR,                   -- run that last tried to deliver it
    PRIMARY KEY (alert_id, target)
);

CREATE TABLE feed_silences (
    feed_url   VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,           -- run clock when the feed was found silent
    quietest   INTEGER NOT NULL,               -- its quietest day of the two weeks before
    alert_id   VARCHAR NOT NULL,
    ended_at   TIMESTAMPTZ,                    -- run clock when it delivered again (NULL: still silent)
    PRIMARY KEY (feed_url, started_at)
);
