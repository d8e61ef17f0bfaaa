from django.db import models


class Tag(models.Model):
    name = models.CharField(max_length=32, unique=True)


class Note(models.Model):
    title = models.CharField(max_length=120)
    text = models.TextField()
    tags = models.ManyToManyField(Tag, related_name="notes")

    class Meta:
        ordering = ["id"]
