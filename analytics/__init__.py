"""vidgen.analytics: events, SQL views, reports and Metabase dashboards as code."""
