# TGD platform image: one image for every TGD process of the multi-process topology
# (compose.yaml, the same processes as `make stack`; docs/deployment.md):
#   tgd run --no-scheduler (app processes), tgd scheduler, tgd fallback, tgd db upgrade.
# Migrations run as a separate command: docker compose run --rm migrate
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/build_assets.sh scripts/
RUN mkdir -p dispatch_ui/static && bash scripts/build_assets.sh

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TGD_MODE=production TGD_DATA_DIR=/var/lib/tgd \
    TGD_SERVER_LOG_FORMAT=json
# pg_dump/pg_restore/psql for `tgd backup` and `tgd restore` (PostgreSQL 15, as the servers).
# Versions are Debian bookworm's, security updates included: not pinned further.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 tgd \
    && useradd --system --uid 10001 --gid tgd --home-dir /var/lib/tgd tgd \
    && mkdir -p /var/lib/tgd/spool && chown -R 10001:10001 /var/lib/tgd && chmod 700 /var/lib/tgd
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY tgd tgd
COPY handset_gateway handset_gateway
COPY dispatch_ui dispatch_ui
COPY migrations migrations
COPY --from=assets /src/dispatch_ui/static/vendor dispatch_ui/static/vendor
RUN pip install --no-cache-dir -e . \
    && pybabel compile -d dispatch_ui/translations
USER 10001
EXPOSE 5000 5080
# Liveness only (/healthz); readiness (/readyz: schema at head, Redis, a scheduler leading)
# is for the load balancer and the on-call alarms, not a reason to restart a container.
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/healthz').status != 200)"]
# One app process (gunicorn's threaded worker, built by `tgd run`); the scheduler and the
# fallback run as their own containers (compose.yaml).
CMD ["tgd", "run", "--host", "0.0.0.0", "--port", "5000", "--no-scheduler"]
