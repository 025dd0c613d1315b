"""pricing_svc: stacked, explained, exact prices (the rule engine is pricing_svc/engine)."""
