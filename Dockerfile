# TGD platform image (multi-process mode: gunicorn app processes + one scheduler process).
# Migrations run as a separate command: docker run IMAGE tgd db upgrade
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/build_assets.sh scripts/
RUN mkdir -p dispatch_ui/static && bash scripts/build_assets.sh

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TGD_MODE=production TGD_DATA_DIR=/var/lib/tgd
RUN groupadd --system --gid 10001 tgd \
    && useradd --system --uid 10001 --gid tgd --home-dir /var/lib/tgd tgd \
    && mkdir -p /var/lib/tgd && chown 10001:10001 /var/lib/tgd
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
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/healthz').status != 200)"]
# One app process (gunicorn's threaded worker, built by `tgd run`); the scheduler runs as
# its own container: docker run IMAGE tgd scheduler
CMD ["tgd", "run", "--host", "0.0.0.0", "--port", "5000", "--no-scheduler"]
