"""Tortoise models on the tables Django's migrations own (`lab_users`, `lab_records`).

The service never generates schema: column names and types follow
project/workload/migrations, so both stacks read and write the same rows.
"""

from tortoise import fields
from tortoise.models import Model


class User(Model):
    id = fields.IntField(primary_key=True)
    first_name = fields.CharField(max_length=100)
    last_name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=254, unique=True)
    gender = fields.CharField(max_length=50)
    ip_address = fields.CharField(max_length=45)
    date_joined = fields.DatetimeField()

    class Meta:
        table = "lab_users"


class BenchRecord(Model):
    """Rows the io workload inserts, updates and deletes; empty at rest."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=254, unique=True)
    age = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "lab_records"
