# The streamjobs image: every process of docker-compose.yml runs from it, with
# the CLI as entrypoint (`docker run IMAGE consume webhook`).
#
# Two stages: the build stage turns the source into a wheel, so the final
# image holds only the installed package (no source tree to shadow it, no
# tests), owned by root and run by an unprivileged user.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# confluent-kafka and psycopg[binary] ship manylinux wheels: no compiler needed.
# COPY, not RUN --mount: docker-compose 1.29 builds without BuildKit.
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels
RUN useradd --system --uid 10001 --user-group --no-create-home \
    --shell /usr/sbin/nologin streamjobs
USER streamjobs
WORKDIR /tmp
# The scheduler's HTTP trigger (POST /api/cron/cleanup, GET /healthz).
EXPOSE 8000 8288
ENTRYPOINT ["streamjobs"]
CMD ["--help"]
