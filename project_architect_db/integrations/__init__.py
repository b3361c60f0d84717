"""Optional integrations with other libraries, each behind its own extra:
``fastapi`` (FastAPI and Starlette apps) and ``otel`` (OpenTelemetry spans).
The core package never imports them."""
