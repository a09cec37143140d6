-- Notifications of alerts: one row per alert and configured URL, with its delivery status.
-- The URL is shown redacted; status: pending, sending, sent, failed, gave-up, dropped; with the
-- attempts and the last error.
CREATE OR REPLACE VIEW v_deliveries AS
SELECT
    d.alert_id,
    a.run_id,
    a.topic,
    d.target_label AS target,
    d.status,
    d.attempts,
    d.last_error,
    d.created_at,
    d.last_attempt_at,
    d.sent_at
FROM deliveries d
LEFT JOIN alerts a ON a.id = d.alert_id;
