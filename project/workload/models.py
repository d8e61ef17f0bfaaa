"""The two tables every stack shares: the seeded users and the io workload's scratch rows."""

from django.db import models


class User(models.Model):
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(max_length=254, unique=True)
    gender = models.CharField(max_length=50)
    ip_address = models.CharField(max_length=45)
    date_joined = models.DateTimeField()

    class Meta:
        db_table = "lab_users"


class BenchRecord(models.Model):
    """Rows the io workload inserts, updates and deletes; empty at rest."""

    name = models.CharField(max_length=100)
    email = models.EmailField(max_length=254, unique=True)
    age = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "lab_records"
