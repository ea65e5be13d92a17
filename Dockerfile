# NH family guide bot. Build: docker build -t nh-guide .
# Run:   docker run -e TELEGRAM_BOT_TOKEN=... -v nh-data:/data nh-guide
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BOT_DB_PATH=/data/bot.sqlite3

WORKDIR /app
# /data is 0700: a new named volume takes this mode, so only the bot user can read the database.
RUN useradd --create-home --uid 10001 bot && mkdir -p /data && chown bot:bot /data && chmod 700 /data

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY content ./content
COPY flows ./flows
# The same install command as the Makefile's `install` target.
RUN python -m pip install --disable-pip-version-check --quiet --no-cache-dir -e .

# The example messages' vectors and the classifiers trained on them, made at build time (about 12 s)
# so that a container starts in about 2 s; validate makes them by the same code path as `run`, and
# checks the content on the way, as `make test` does first. A reloaded content version adds its own.
ENV BOT_CACHE_DIR=/app/cache
RUN mkdir -p /app/cache && chown bot:bot /app/cache

USER bot
RUN python -m bot validate
# The database and the generated session secret live on the volume, outside the image.
VOLUME ["/data"]

# In webhook mode (BOT_WEBHOOK_URL set) this asks the bot's /healthz; in polling mode there is
# no port, so it passes, and a crashed bot exits for the restart policy to bring back.
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD ["python", "-m", "bot", "health"]

# Exec form, so SIGTERM reaches Python and python-telegram-bot stops cleanly.
CMD ["python", "-m", "bot", "run"]
