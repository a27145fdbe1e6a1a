# Grondslag: ledger API and projector (one image, two commands; see compose.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install --no-cache-dir uv

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY grondslag ./grondslag
COPY services ./services
RUN uv sync --frozen --no-dev --no-editable

# Unprivileged user; its data folder is only used when no DATABASE_URL/NATS_URL
# is given (embedded mode). audit-key/ holds the audit signing key (0600) and
# master-key/ the key-encryption keys (0600); compose shares each between the ledger
# and the projector as a volume.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/grondslag \
        --create-home --shell /usr/sbin/nologin grondslag \
    && install -d -m 0700 -o grondslag -g grondslag /var/lib/grondslag/audit-key \
        /var/lib/grondslag/master-key
ENV PATH="/app/.venv/bin:${PATH}" \
    GRONDSLAG_DATA_DIR=/var/lib/grondslag
USER grondslag
WORKDIR /var/lib/grondslag

EXPOSE 8000
ENTRYPOINT ["/app/.venv/bin/grondslag"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
