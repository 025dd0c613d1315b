"""sweeper: expires overdue holds and purges old idempotency records.

A scheduler process (APScheduler; one leader per Redis namespace) sends an
expire_holds message every few seconds; Dramatiq workers on the same Redis run it.
Correctness never depends on the sweeper: overdue holds are never counted as
reserved, and the reserve path reclaims the ones on the SKUs it locks.
"""
