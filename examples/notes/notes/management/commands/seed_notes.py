"""500 notes over 12 tags, the same every time (fixed seed); refuses a database that
already holds notes."""

import random

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from notes.models import Note, Tag

WORDS = ("granian django async thread pool latency queue worker request response template cache index "
         "query commit table socket kernel buffer").split()
TAGS = ("ideas", "work", "home", "reading", "travel", "code", "music", "food", "health", "money", "people", "misc")


class Command(BaseCommand):
    help = "Seed 500 notes over 12 tags (fixed seed)."

    def handle(self, *args, **options):
        if Note.objects.exists():
            raise CommandError("the database already holds notes: seed an empty one")
        rng = random.Random(7)
        with transaction.atomic():
            tags = [Tag.objects.create(name=name) for name in TAGS]
            for i in range(500):
                note = Note.objects.create(title=f"Note {i + 1}: {' '.join(rng.sample(WORDS, 3))}",
                                           text=" ".join(rng.choices(WORDS, k=rng.randint(20, 120))))
                note.tags.set(rng.sample(tags, rng.randint(1, 3)))
        self.stdout.write("seeded 500 notes over 12 tags")
