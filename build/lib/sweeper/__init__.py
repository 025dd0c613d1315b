"""sweeper: expires overdue holds and purges old idempotency records.

A scheduler process (APScheduler; one leader per Redis namespace) sends expire_holds
messages every few seconds, one per partition of the overdue holds; Dramatiq workers on
the same Redis run them, each batch on a partition no other run is sweeping.
Correctness never depends on the sweeper: overdue holds are never counted as
reserved, and the reserve path reclaims the ones on the SKUs it locks.
"""
