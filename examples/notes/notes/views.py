import json

from django.db import transaction
from django.db.models import Count
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from notes.models import Note, Tag

PAGE = 100


@require_GET
def note_list(request):
    """The first PAGE notes with their tags and word counts, rendered by a template."""
    notes = Note.objects.prefetch_related("tags")[:PAGE]
    rows = [{"note": n, "words": len(n.text.split()), "tags": sorted(t.name for t in n.tags.all())} for n in notes]
    return render(request, "notes/list.html", {"rows": rows, "total": Note.objects.count()})


@require_GET
def note_detail(request, note_id):
    note = get_object_or_404(Note.objects.prefetch_related("tags"), pk=note_id)
    return JsonResponse({"id": note.id, "title": note.title, "text": note.text,
                         "tags": sorted(t.name for t in note.tags.all())})


@require_GET
def tag_counts(request):
    counts = Tag.objects.annotate(n=Count("notes")).order_by("name").values_list("name", "n")
    return JsonResponse({"tags": dict(counts)})


@require_GET
def clock(request):
    """The server's time: a body that changes on every request. An app file that measures it
    says compare_body = false (the gate would otherwise show the first differing bytes)."""
    return JsonResponse({"now": timezone.now().isoformat()})


@csrf_exempt
@require_POST
def add_note(request):
    """Create a note from JSON {"title", "text", "tags": [...]}: a request that writes."""
    try:
        data = json.loads(request.body)
        title, text, tags = str(data["title"])[:120], str(data["text"]), [str(t)[:32] for t in data.get("tags", [])]
    except (ValueError, KeyError, TypeError):
        return HttpResponseBadRequest("expected JSON with title and text")
    with transaction.atomic():  # one write transaction (IMMEDIATE in settings: it waits for the lock)
        note = Note.objects.create(title=title, text=text)
        note.tags.set([Tag.objects.get_or_create(name=t)[0] for t in tags])
    return JsonResponse({"id": note.id}, status=201)
