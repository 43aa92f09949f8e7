"""WSGI entry point: `gunicorn wsgi:app`. Never starts the scheduler (DESIGN.md decision 2)."""
from abmcontent import create_app

app = create_app()
