-- Failed generations per day of failure, by error class and code.
CREATE VIEW analytics_errors_per_day AS
SELECT
    (COALESCE(g.finished_at, g.updated_at) AT TIME ZONE 'UTC')::date AS day,
    COALESCE(g.error_class, 'UNKNOWN') AS error_class,
    COALESCE(g.error_code, '') AS error_code,
    count(*) AS failures,
    count(*) FILTER (WHERE g.refunded) AS refunded,
    count(DISTINCT g.user_id) AS users
FROM generations AS g
WHERE g.phase = 'Failed'
GROUP BY 1, 2, 3;
