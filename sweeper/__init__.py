"""sweeper: expires overdue holds (Dramatiq worker + APScheduler); arrives with its own issue.

Until then, overdue holds are reclaimed inside every reserve transaction that
touches their SKUs, and they never count as reserved for availability.
"""
