"""The FastAPI example app: ``create_app()`` in ``app.py``; see README.md."""
