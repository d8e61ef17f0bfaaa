"""The lab's tables get names no user's app would choose (`lab_users`, `lab_records`), so a
database given by DATABASE_URL can be checked for tables that are not the lab's."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("workload", "0001_initial")]

    operations = [
        migrations.AlterModelTable(name="user", table="lab_users"),
        migrations.AlterModelTable(name="benchrecord", table="lab_records"),
    ]
