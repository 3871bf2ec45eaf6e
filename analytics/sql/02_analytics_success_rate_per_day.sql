-- Requests per day (UTC day of the request) and how they ended.
CREATE VIEW analytics_success_rate_per_day AS
SELECT
    (g.created_at AT TIME ZONE 'UTC')::date AS day,
    count(*) AS requested,
    count(*) FILTER (WHERE g.phase = 'Delivered') AS delivered,
    count(*) FILTER (WHERE g.phase = 'Failed') AS failed,
    count(*) FILTER (WHERE g.phase NOT IN ('Delivered', 'Failed')) AS unfinished,
    count(*) FILTER (WHERE g.refunded) AS refunded,
    round(
        count(*) FILTER (WHERE g.phase = 'Delivered')::numeric
        / NULLIF(count(*) FILTER (WHERE g.phase IN ('Delivered', 'Failed')), 0),
        4
    ) AS success_rate
FROM generations AS g
GROUP BY 1;
