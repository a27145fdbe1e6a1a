"""The HTTP API (litestar): thin controllers that turn plain values into domain calls."""
