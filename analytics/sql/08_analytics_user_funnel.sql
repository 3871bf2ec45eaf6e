-- One row per user: when they signed up, got their first video, made their first purchase.
CREATE VIEW analytics_user_funnel AS
SELECT
    u.id AS user_id,
    u.created_at AS signed_up_at,
    v.first_video_at,
    p.first_purchase_at
FROM users AS u
LEFT JOIN (
    SELECT g.user_id, min(COALESCE(g.finished_at, g.updated_at)) AS first_video_at
    FROM generations AS g
    WHERE g.phase = 'Delivered'
    GROUP BY g.user_id
) AS v ON v.user_id = u.id
LEFT JOIN (
    SELECT pay.user_id, min(pay.created_at) AS first_purchase_at
    FROM payments AS pay
    GROUP BY pay.user_id
) AS p ON p.user_id = u.id;
