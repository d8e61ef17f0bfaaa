"""Load fixtures/users.json into `lab_users`, idempotently: afterwards the table holds
exactly the fixture's rows with the fixture's ids, however often it runs."""

import json
from datetime import datetime

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from workload.models import User

FIXTURE = settings.REPO_ROOT / "fixtures" / "users.json"


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        rows = json.loads(FIXTURE.read_text(encoding="utf-8"))
        users = [User(**{**row, "date_joined": datetime.fromisoformat(row["date_joined"])}) for row in rows]
        with transaction.atomic():
            User.objects.all().delete()
            User.objects.bulk_create(users)
        self.stdout.write(f"seed_users: {User.objects.count()} users in table users")
