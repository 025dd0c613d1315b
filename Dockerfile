# One slim image for every holdfast process; stubs are generated at build time.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md Makefile ./
COPY protos protos
COPY holdfast_common holdfast_common
COPY inventory_svc inventory_svc
COPY pricing_svc pricing_svc
COPY sweeper sweeper
COPY migrations migrations
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/* \
    && python -m venv /app/.venv && touch /app/.venv/.installed \
    && /app/.venv/bin/pip install --no-cache-dir -e . \
    && make protos VENV=/app/.venv \
    && useradd --system --uid 10001 holdfast
ENV PATH=/app/.venv/bin:$PATH
USER holdfast
CMD ["python", "-m", "inventory_svc"]
