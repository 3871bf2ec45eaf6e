-- Active users per ISO week (starting Monday, UTC): users with an event that week.
CREATE VIEW analytics_active_users_weekly AS
SELECT
    date_trunc('week', e.created_at AT TIME ZONE 'UTC')::date AS week,
    count(DISTINCT e.user_id) AS active_users,
    count(DISTINCT e.user_id) FILTER (WHERE e.type = 'user_registered') AS new_users
FROM events AS e
WHERE e.user_id IS NOT NULL
GROUP BY 1;
