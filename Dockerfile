# The service image: gunicorn serving wsgi:app as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies and the package, from the project's own files.
COPY pyproject.toml setup.cfg ./
COPY service ./service
COPY schemas ./schemas
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin registry
COPY wsgi.py gunicorn.conf.py ./

USER registry

ENV SERVICE_ENV=production \
    PORT=8000
EXPOSE 8000

# Liveness only (no database): /healthz. Readiness, with the database, is /readyz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]

CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
