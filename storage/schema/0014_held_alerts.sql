-- Alerts made while the notify file could not be read (a typo, a missing file): their
-- deliveries are not decided yet. The first run with a valid notify file routes them
-- (queues a delivery to each URL of their topic) and clears the mark, so that a broken
-- file delays notifications, never loses them. Alerts stored before this were routed.

ALTER TABLE alerts ADD COLUMN IF NOT EXISTS notify_held BOOLEAN DEFAULT false;
