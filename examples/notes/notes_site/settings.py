"""A small Django site that is not the lab's demo: notes with tags in SQLite, a template
page, a JSON API and a middleware of its own. Its data lives in NOTES_DB (default
var/notes.sqlite3 beside this project); the lab never migrates, seeds or deletes it."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("NOTES_SECRET_KEY", "")
if not SECRET_KEY:
    raise RuntimeError("NOTES_SECRET_KEY is not set (the app file's env gives it)")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
INSTALLED_APPS = ["django.contrib.contenttypes", "notes"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware", "notes.middleware.ReadOnlyHeaders"]
ROOT_URLCONF = "notes_site.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {}}]
WSGI_APPLICATION = "notes_site.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("NOTES_DB", str(BASE_DIR / "var" / "notes.sqlite3")),
                         # IMMEDIATE: a writer takes SQLite's lock when its transaction starts and
                         # waits up to `timeout` for it, rather than failing with "database is locked"
                         # when two transactions that read first both try to write.
                         "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"}}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
