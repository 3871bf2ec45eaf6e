-- Active users per day: a user is active on a day when they have an event that day.
CREATE VIEW analytics_active_users_daily AS
SELECT
    (e.created_at AT TIME ZONE 'UTC')::date AS day,
    count(DISTINCT e.user_id) AS active_users,
    count(DISTINCT e.user_id) FILTER (WHERE e.type = 'user_registered') AS new_users
FROM events AS e
WHERE e.user_id IS NOT NULL
GROUP BY 1;
