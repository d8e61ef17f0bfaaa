"""Django settings: the minimum to serve the lab's pages and io workload.

Values come from settings.env through lab.config (the one reader). DEBUG off, one
middleware (Content-Length), no contrib apps. The database is DB_ENGINE's: MariaDB through
mysqlclient, or PostgreSQL through psycopg 3. CONN_MAX_AGE depends on the interface:
persistent under WSGI, 0 under ASGI (persistent connections leak one per request thread
there); on PostgreSQL, DJANGO_DB_POOL=true gives ASGI psycopg's pool (Django 5.1+) of
DJANGO_DB_POOL_SIZE connections instead of one connection per request. Connect and read
timeouts (the engine's `timeouts`): a stalled database fails the request (500) instead of
holding its thread for ever.
"""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from lab import mariadb, postgresql  # noqa: E402
from lab.config import load_or_exit  # noqa: E402

LAB = load_or_exit()

SECRET_KEY = LAB.secret_key
DEBUG = LAB.debug
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", LAB.server_host]
USE_ASGI = LAB.use_asgi
IO_DIR = LAB.io_dir

INSTALLED_APPS = ["workload"]
MIDDLEWARE = ["workload.middleware.ContentLengthMiddleware"]
ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]

if LAB.database.engine == "postgresql":
    DB_OPTIONS = postgresql.timeouts(LAB)
    if USE_ASGI and LAB.django_db_pool:  # fixed size; a request waits for a free connection up to the read timeout
        DB_OPTIONS["pool"] = {"min_size": LAB.django_db_pool_size, "max_size": LAB.django_db_pool_size,
                              "timeout": LAB.db_read_timeout_s}
else:
    DB_OPTIONS = {"charset": "utf8mb4", **mariadb.timeouts(LAB)}
DATABASES = {
    "default": {
        "ENGINE": {"mariadb": "django.db.backends.mysql", "postgresql": "django.db.backends.postgresql"}[
            LAB.database.engine],
        "HOST": LAB.database.host,
        "PORT": LAB.database.port,
        "NAME": LAB.database.name,
        "USER": LAB.database.user,
        "PASSWORD": LAB.database.password,
        "CONN_MAX_AGE": LAB.conn_max_age_asgi if USE_ASGI else LAB.conn_max_age_wsgi,
        "OPTIONS": DB_OPTIONS,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# Naive UTC datetimes: every stack renders the same cells without time-zone conversion.
USE_TZ = False
TIME_ZONE = "UTC"
USE_I18N = False
