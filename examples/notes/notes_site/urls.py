from django.urls import path
from notes import views

urlpatterns = [
    path("", views.note_list),
    path("notes/", views.add_note),
    path("notes/<int:note_id>/", views.note_detail),
    path("api/tags/", views.tag_counts),
    path("api/clock/", views.clock),
]
