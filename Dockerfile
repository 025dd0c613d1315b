# One slim image for every holdfast process (services, sweeper, migrations); the command
# picks which. Stubs are generated at build time; dev dependencies stay out.

FROM python:3.11-slim AS build
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# make runs the same `protos` target as a developer's checkout; it stays in this stage.
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
RUN python -m venv /app/.venv
# Dependencies first, from pyproject.toml alone, so a code change reuses this layer; the
# tracing extra too, so OTEL_EXPORTER_OTLP_ENDPOINT works in a container.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['tracing']))" \
        > /tmp/requirements.txt \
    && /app/.venv/bin/pip install -r /tmp/requirements.txt
COPY README.md Makefile ./
COPY protos protos
COPY holdfast_cli holdfast_cli
COPY holdfast_common holdfast_common
COPY holdfast_ops holdfast_ops
COPY holdfast_dev holdfast_dev
COPY inventory_svc inventory_svc
COPY pricing_svc pricing_svc
COPY sweeper sweeper
# The stamp tells make the virtualenv is set up, so `make protos` does not install the dev
# extras; then a plain (not editable) install: every file the code reads (SQL, migrations)
# is package data, found through the import system.
RUN touch /app/.venv/.installed \
    && make protos VENV=/app/.venv \
    && /app/.venv/bin/pip install --no-deps . \
    && /app/.venv/bin/python -m compileall -q /app/.venv/lib

FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/app/.venv/bin:$PATH
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin holdfast \
    && install -d -o holdfast -m 0755 /certs
# /certs: an empty named volume mounted there starts with this owner, so the certs job (as
# holdfast) can write the development certificates. Only the virtualenv is copied: the code
# is installed in it, owned by root, so the service user can run it but not change it.
COPY --from=build /app/.venv /app/.venv
EXPOSE 50051 50052
USER holdfast
CMD ["python", "-m", "inventory_svc"]
