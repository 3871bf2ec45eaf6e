-- Generation time per day of delivery: average, median and 95th percentile (seconds).
CREATE VIEW analytics_generation_time_per_day AS
SELECT
    d.day,
    count(*) AS videos,
    round(avg(d.total_seconds)::numeric, 1) AS avg_seconds,
    round((percentile_cont(0.5) WITHIN GROUP (ORDER BY d.total_seconds))::numeric, 1) AS p50_seconds,
    round((percentile_cont(0.95) WITHIN GROUP (ORDER BY d.total_seconds))::numeric, 1) AS p95_seconds,
    round(avg(d.wait_seconds)::numeric, 1) AS avg_wait_seconds,
    round(avg(d.run_seconds)::numeric, 1) AS avg_run_seconds
FROM analytics_generation_durations AS d
GROUP BY d.day;
