"""The history outlives its zone: ZoneChange keeps the origin, and a deletion is an entry."""

import django.db.models.deletion
from django.db import migrations, models


def copy_origins(apps, schema_editor) -> None:
    """Existing entries get their zone's origin, before the link may ever be cut."""
    ZoneChange = apps.get_model("dnsadmin", "ZoneChange")
    Zone = apps.get_model("dnsadmin", "Zone")
    for pk, origin in Zone.objects.values_list("pk", "origin"):
        ZoneChange.objects.filter(zone_id=pk).update(origin=origin)


class Migration(migrations.Migration):
    dependencies = [
        ("dnsadmin", "0006_notify_targets"),
    ]

    operations = [
        migrations.AddField(
            model_name="zonechange",
            name="origin",
            field=models.CharField(blank=True, db_index=True, max_length=255),
        ),
        migrations.AddField(
            model_name="zonechange",
            name="zone_deleted",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(copy_origins, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="zonechange",
            name="zone",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="changes",
                to="dnsadmin.zone",
            ),
        ),
    ]
