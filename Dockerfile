# syntax=docker/dockerfile:1
# Build: the locked dependencies, then the project as a wheel, into /opt/venv.
FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY app ./app
COPY tenants ./tenants
COPY workers ./workers
COPY migrations ./migrations
RUN uv sync --frozen --no-dev --no-editable

# Run: no build tools, no sources beyond the installed wheel, a non-root user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin kehu
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER kehu
WORKDIR /home/kehu
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# The same image runs the worker (`kehu worker`) and migrations (`kehu migrate`).
CMD ["kehu", "serve", "--host", "0.0.0.0", "--port", "8000"]
