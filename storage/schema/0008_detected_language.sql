-- The language of each document as read from its text (newsmon.language, py3langid), beside the
-- one its page declares (documents.language). Documents stored before stay NULL until they are
-- stored again (a backfill, or a changed text).

ALTER TABLE documents ADD COLUMN detected_language VARCHAR;  -- ISO 639-1, e.g. en, de, zh
