-- The funnel signup → first video → first purchase, per signup day (cohort). A user counts at
-- a step when they reached it and every step before it.
CREATE VIEW analytics_funnel AS
SELECT
    (f.signed_up_at AT TIME ZONE 'UTC')::date AS cohort_day,
    count(*) AS signups,
    count(f.first_video_at) AS first_video,
    count(*) FILTER (WHERE f.first_video_at IS NOT NULL AND f.first_purchase_at IS NOT NULL) AS first_purchase,
    round(count(f.first_video_at)::numeric / count(*), 4) AS video_rate,
    round(
        count(*) FILTER (WHERE f.first_video_at IS NOT NULL AND f.first_purchase_at IS NOT NULL)::numeric
        / count(*),
        4
    ) AS purchase_rate,
    round((avg(EXTRACT(EPOCH FROM f.first_video_at - f.signed_up_at)) / 3600)::numeric, 2)
        AS avg_hours_to_first_video
FROM analytics_user_funnel AS f
GROUP BY 1;
