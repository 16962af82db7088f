"""The final state of the bench model; the migrations build it in five steps, so the serial and the parallel
fleet runs each have their own AddField + AddIndex pair (0002/0003 and 0004/0005)."""

from django.db import models


class FleetNote(models.Model):
    title = models.CharField(max_length=100)
    score = models.IntegerField(null=True)  # 0002
    tag = models.CharField(max_length=40, null=True)  # noqa: DJ001 - 0004: a nullable AddField, as in the issue

    class Meta:
        app_label = "fleetapp"
        indexes = [
            models.Index(fields=["score"], name="fleetnote_score_idx"),  # 0003
            models.Index(fields=["tag"], name="fleetnote_tag_idx"),  # 0005
        ]

    def __str__(self) -> str:
        return self.title
