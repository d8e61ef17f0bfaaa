"""ASGI entry point: granian --interface asginl project.asgi:application (USE_ASGI=true)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_asgi_application()
