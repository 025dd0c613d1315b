"""What an operator runs against the database: migrations, the services' roles, the audit.

`python -m holdfast_ops migrate|roles|audit`; each reads DATABASE_URL (the schema owner's).
"""
