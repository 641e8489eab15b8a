"""Records get a stored zone-file sort key (RFC 4034 §6.1 canonical order), indexed with the
zone, so the zone page reads one page in order from the database."""

from django.db import migrations, models

from dnsadmin.models import record_sort_key


def fill_sort_keys(apps, schema_editor):
    """Compute the key of every existing record (in batches: zones may be large)."""
    Record = apps.get_model("dnsadmin", "Record")
    batch = []
    for record in Record.objects.only("id", "owner", "rdtype").iterator(chunk_size=5000):
        record.sort_key = record_sort_key(record.owner, record.rdtype)
        batch.append(record)
        if len(batch) >= 5000:
            Record.objects.bulk_update(batch, ["sort_key"])
            batch = []
    Record.objects.bulk_update(batch, ["sort_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("dnsadmin", "0013_zone_change_catalog_source"),
    ]

    operations = [
        migrations.AddField(
            model_name="record",
            name="sort_key",
            field=models.BinaryField(default=b"", editable=False),
        ),
        migrations.RunPython(fill_sort_keys, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="record",
            index=models.Index(fields=["zone", "sort_key"], name="dnsadmin_record_zone_order"),
        ),
    ]
