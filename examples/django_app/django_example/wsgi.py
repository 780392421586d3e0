"""The WSGI callable for a production server: ``gunicorn django_example.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_example.settings")
application = get_wsgi_application()
