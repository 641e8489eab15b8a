"""Full-text search over LogLine.text: FTS5 on SQLite, a GIN expression index on PostgreSQL.

On SQLite the FTS5 table uses LogLine as external content (the text is stored once) and
triggers keep it in sync with every insert, update and delete, including the bot's bulk
inserts. Caution: Django rebuilds a SQLite table to alter it, which drops its triggers;
a later migration that alters LogLine must create the triggers below again.
"""

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE botadmin_logline_fts USING fts5("
    "text, content='botadmin_logline', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER botadmin_logline_fts_insert AFTER INSERT ON botadmin_logline BEGIN "
    "INSERT INTO botadmin_logline_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER botadmin_logline_fts_delete AFTER DELETE ON botadmin_logline BEGIN "
    "INSERT INTO botadmin_logline_fts(botadmin_logline_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER botadmin_logline_fts_update AFTER UPDATE OF text ON botadmin_logline BEGIN "
    "INSERT INTO botadmin_logline_fts(botadmin_logline_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO botadmin_logline_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO botadmin_logline_fts(botadmin_logline_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS botadmin_logline_fts_insert",
    "DROP TRIGGER IF EXISTS botadmin_logline_fts_delete",
    "DROP TRIGGER IF EXISTS botadmin_logline_fts_update",
    "DROP TABLE IF EXISTS botadmin_logline_fts",
]
# The expression must be the one botadmin.search queries with, or the index is not used.
POSTGRESQL_FORWARD = [
    "CREATE INDEX IF NOT EXISTS botadmin_logline_text_fts "
    "ON botadmin_logline USING GIN (to_tsvector('simple', text))"
]
POSTGRESQL_BACKWARD = ["DROP INDEX IF EXISTS botadmin_logline_text_fts"]


def run(statements: dict[str, list[str]]):
    def operation(apps, schema_editor) -> None:
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return operation


class Migration(migrations.Migration):
    dependencies = [("botadmin", "0002_logs_access_redaction_outbound")]

    operations = [
        migrations.RunPython(
            run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRESQL_FORWARD}),
            run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRESQL_BACKWARD}),
        )
    ]
