-- Videos delivered per day (UTC day of delivery).
CREATE VIEW analytics_videos_per_day AS
SELECT
    (COALESCE(g.finished_at, g.updated_at) AT TIME ZONE 'UTC')::date AS day,
    count(*) AS videos,
    count(DISTINCT g.user_id) AS users,
    COALESCE(sum(g.video_duration), 0)::double precision AS video_seconds
FROM generations AS g
WHERE g.phase = 'Delivered'
GROUP BY 1;
