-- Telegram Stars revenue per day of payment; net leaves out payments refunded since.
CREATE VIEW analytics_stars_revenue_per_day AS
SELECT
    (p.created_at AT TIME ZONE 'UTC')::date AS day,
    count(*) AS payments,
    count(DISTINCT p.user_id) AS buyers,
    sum(p.stars) AS gross_stars,
    count(*) FILTER (WHERE p.refunded) AS refunded_payments,
    COALESCE(sum(p.stars) FILTER (WHERE p.refunded), 0) AS refunded_stars,
    COALESCE(sum(p.stars) FILTER (WHERE NOT p.refunded), 0) AS net_stars,
    COALESCE(sum(p.credits) FILTER (WHERE NOT p.refunded), 0) AS net_credits
FROM payments AS p
WHERE p.currency = 'XTR'
GROUP BY 1;
