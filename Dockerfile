# Crier's production image (README, "Deploying"). Two stages: the builder turns every
# dependency into a wheel (with compilers at hand for any that ships none); the runtime is
# a slim Python 3.11 with those wheels installed, no compiler, no pip cache, run as a
# non-root user. Static files are collected at build, hashed and compressed (WhiteNoise).
# The commands are scripts/entrypoint.sh's: web (default), worker, migrate, emulators.
# BuildKit is needed (RUN --mount): Docker 23+ uses it by default, older ones with
# DOCKER_BUILDKIT=1. Any Debian-based image with Python 3.11 and its venv module will do as
# the base (README, "Deploying", says which one was built here).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: wheels ------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# Compilers only here; nearly every dependency ships a manylinux wheel, so they are rarely used.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# What `pip wheel .` needs to read the dependencies; the code is copied into the runtime.
COPY pyproject.toml README.md ./
COPY config/__init__.py config/__init__.py
COPY audit/__init__.py audit/__init__.py
COPY providers/__init__.py providers/__init__.py
COPY templates_registry/__init__.py templates_registry/__init__.py
COPY campaigns/__init__.py campaigns/__init__.py
COPY approvals/__init__.py approvals/__init__.py
# pip from a virtualenv, so a base whose system Python is managed by apt works too. The
# project's own wheel is dropped: the runtime runs the code from /app.
RUN python -m venv /build \
    && /build/bin/pip wheel --wheel-dir /wheels . \
    && rm /wheels/crier-*.whl

# --- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=config.settings \
    CRIER_ENV_FILE= \
    STATIC_ROOT=/app/var/static \
    HOST=0.0.0.0 \
    PORT=8000
RUN groupadd --system --gid 10001 crier \
    && useradd --system --uid 10001 --gid crier --home-dir /app --no-create-home --shell /usr/sbin/nologin crier \
    && python -m venv /opt/venv
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --no-deps /wheels/*.whl
WORKDIR /app
COPY . /app
# collectstatic needs settings, and settings need a SECRET_KEY when DEBUG is off: a
# throwaway one, for this command only (never in the image's environment).
# Writable for the user: var/emulators (a sandbox's emulator keys), var/run (run-time files,
# e.g. PROMETHEUS_MULTIPROC_DIR). The code and the static files stay root's, read-only.
RUN SECRET_KEY=collectstatic-at-build-only DEBUG=0 python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /app/var/emulators /app/var/run/metrics \
    && chown -R crier:crier /app/var/emulators /app/var/run
USER 10001:10001
EXPOSE 8000
# No HEALTHCHECK here: web and worker share the image; compose.yaml probes the web service.
ENTRYPOINT ["/app/scripts/entrypoint.sh"]
CMD ["web"]
