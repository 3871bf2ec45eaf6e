-- All failures ever, by error class and code, with each pair's share of all failures.
CREATE VIEW analytics_error_distribution AS
SELECT
    e.error_class,
    e.error_code,
    sum(e.failures)::bigint AS failures,
    round(sum(e.failures) / sum(sum(e.failures)) OVER (), 4) AS share,
    sum(e.refunded)::bigint AS refunded,
    min(e.day) AS first_day,
    max(e.day) AS last_day
FROM analytics_errors_per_day AS e
GROUP BY e.error_class, e.error_code;
