-- Credits per day from the ledger, each as a positive amount; net is the balance change.
CREATE VIEW analytics_credit_usage_per_day AS
SELECT
    (c.created_at AT TIME ZONE 'UTC')::date AS day,
    COALESCE(sum(c.delta) FILTER (WHERE c.kind IN ('signup_bonus', 'admin_grant')), 0) AS granted,
    COALESCE(sum(c.delta) FILTER (WHERE c.kind = 'purchase'), 0) AS bought,
    COALESCE(-sum(c.delta) FILTER (WHERE c.kind = 'debit'), 0) AS spent,
    COALESCE(sum(c.delta) FILTER (WHERE c.kind = 'refund'), 0) AS refunded,
    COALESCE(-sum(c.delta) FILTER (WHERE c.kind = 'purchase_refund'), 0) AS reversed,
    sum(c.delta) AS net
FROM credit_entries AS c
GROUP BY 1;
