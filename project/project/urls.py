"""The lab's URLs, identical on every stack (docs/design.md, Endpoints)."""

from django.conf import settings
from django.urls import path
from workload import views

urlpatterns = [
    # The framework floor: the native view kind for the interface (no thread hop, no loop per request).
    path("ping/", views.ping_async if settings.USE_ASGI else views.ping_sync),
    path("sync/", views.users_sync),
    path("async/", views.users_async),
    path("sync/io/", views.io_sync),
    path("async/io/", views.io_async),
    path("info/", views.info),
]
