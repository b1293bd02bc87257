"""Serving: the HTTP API ``suite serve`` runs (FastAPI on uvicorn).

``create_app(suite)`` builds the app; plugins add routes through the ``register_routes``
hook and predict through the shared micro-batchers (``request.app.state.serving.models``).
"""

from core.serving.app import create_app

__all__ = ["create_app"]
