-- One row per delivered generation: how long it took (request → delivered), split into the
-- wait before its Job started and the run after it.
CREATE VIEW analytics_generation_durations AS
SELECT
    g.name,
    g.user_id,
    g.model,
    g.attempts,
    (g.finished_at AT TIME ZONE 'UTC')::date AS day,
    EXTRACT(EPOCH FROM g.finished_at - g.created_at)::double precision AS total_seconds,
    EXTRACT(EPOCH FROM g.started_at - g.created_at)::double precision AS wait_seconds,
    EXTRACT(EPOCH FROM g.finished_at - g.started_at)::double precision AS run_seconds
FROM generations AS g
WHERE g.phase = 'Delivered' AND g.finished_at IS NOT NULL;
