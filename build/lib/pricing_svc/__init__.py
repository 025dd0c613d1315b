"""pricing_svc: stacked, explained, exact prices (the rule engine arrives with its own issue)."""
