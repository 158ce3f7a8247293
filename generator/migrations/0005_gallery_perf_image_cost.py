"""Image.generation_cost: the generation's actual_cost copied onto each image, kept by triggers.

The "most expensive" sort orders by (cost, image id). With the cost on the generation
and the id on the image no index covers that order: the database reads every image of
the top price (prices repeat: a dozen distinct values over 100k images) and sorts them,
and a page deep in a popular price sorts tens of thousands of rows. On the image, one
index (cost DESC, id DESC) serves every page as a short walk.

Triggers, like the search document (0003): actual_cost is written with QuerySet.update()
and images with bulk_create, which run no save() or signals.
"""

from django.db import migrations, models

SQLITE_FORWARD = [
    """CREATE TRIGGER gallery_image_cost_ai AFTER INSERT ON generator_image BEGIN
        UPDATE generator_image SET generation_cost =
            (SELECT actual_cost FROM generator_generation WHERE id = new.generation_id)
        WHERE id = new.id;
    END""",
    """CREATE TRIGGER gallery_generation_cost_au AFTER UPDATE OF actual_cost ON generator_generation
        WHEN old.actual_cost IS NOT new.actual_cost
    BEGIN
        UPDATE generator_image SET generation_cost = new.actual_cost WHERE generation_id = new.id;
    END""",
    """UPDATE generator_image SET generation_cost =
        (SELECT actual_cost FROM generator_generation g WHERE g.id = generator_image.generation_id)""",
    # SQLite puts NULLs last in DESC already and rejects NULLS LAST in an index.
    "CREATE INDEX image_gallery_cost ON generator_image (generation_cost DESC, id DESC)",
]

SQLITE_BACKWARD = [
    "DROP INDEX IF EXISTS image_gallery_cost",
    "DROP TRIGGER IF EXISTS gallery_image_cost_ai",
    "DROP TRIGGER IF EXISTS gallery_generation_cost_au",
]

POSTGRES_FORWARD = [
    """CREATE FUNCTION gallery_image_cost_bi() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.generation_cost := (SELECT actual_cost FROM generator_generation WHERE id = NEW.generation_id);
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER gallery_image_cost_bi BEFORE INSERT ON generator_image
        FOR EACH ROW EXECUTE FUNCTION gallery_image_cost_bi()""",
    """CREATE FUNCTION gallery_generation_cost_au() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE generator_image SET generation_cost = NEW.actual_cost WHERE generation_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER gallery_generation_cost_au AFTER UPDATE OF actual_cost ON generator_generation
        FOR EACH ROW WHEN (OLD.actual_cost IS DISTINCT FROM NEW.actual_cost)
        EXECUTE FUNCTION gallery_generation_cost_au()""",
    """UPDATE generator_image i SET generation_cost = g.actual_cost
        FROM generator_generation g WHERE g.id = i.generation_id""",
    # NULLS LAST to match the gallery's ORDER BY (PostgreSQL puts NULLs first in DESC).
    "CREATE INDEX image_gallery_cost ON generator_image (generation_cost DESC NULLS LAST, id DESC)",
    "ANALYZE generator_image",
]

POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS image_gallery_cost",
    "DROP TRIGGER IF EXISTS gallery_generation_cost_au ON generator_generation",
    "DROP TRIGGER IF EXISTS gallery_image_cost_bi ON generator_image",
    "DROP FUNCTION IF EXISTS gallery_generation_cost_au(), gallery_image_cost_bi()",
]


def _run(statements: dict):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("generator", "0004_gallery_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="image",
            name="generation_cost",
            field=models.DecimalField(blank=True, decimal_places=6, editable=False, max_digits=12, null=True),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="image",
                    index=models.Index(fields=["-generation_cost", "-id"], name="image_gallery_cost"),
                ),
            ],
            database_operations=[
                migrations.RunPython(
                    _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
                    _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
                ),
            ],
        ),
    ]
