-- Feed details: each feed's own title, site link, language and format, as its latest
-- successful poll (or `newsmon feeds add`) read them. Tags were already stored.

ALTER TABLE feeds ADD COLUMN title VARCHAR;      -- the feed's <title>, plain text
ALTER TABLE feeds ADD COLUMN site_url VARCHAR;   -- the feed's own link (the site), http(s) only
ALTER TABLE feeds ADD COLUMN language VARCHAR;   -- <language>, dc:language or xml:lang, e.g. en-GB
ALTER TABLE feeds ADD COLUMN format VARCHAR;     -- feedparser's version: rss20, rss10, atom10, ...
