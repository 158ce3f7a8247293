"""Full-text search over images: SQLite FTS5 or a PostgreSQL tsvector, kept in sync by triggers.

Triggers, not the save path: images are stored with bulk_create, the model's reply is
written with QuerySet.update(), tags change through M2M .add()/.remove(), styles are
renamed in the admin and SET_NULL cascades run as UPDATEs. None of these run save() or
signals; a trigger sees every one of them. See generator/search.py.
"""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE gallery_image_fts USING fts5(
        prompt, reply, style, preset, tags, tokenize = 'porter unicode61 remove_diacritics 2')""",
    # The table's `rank` column: bm25 weighting prompt and tags most, the reply least.
    "INSERT INTO gallery_image_fts (gallery_image_fts, rank) VALUES ('rank', 'bm25(10.0, 2.0, 5.0, 5.0, 10.0)')",
    # The text of one image's row, as a SELECT over its generation: used by the triggers.
    """CREATE TRIGGER gallery_fts_image_ai AFTER INSERT ON generator_image BEGIN
        INSERT INTO gallery_image_fts (rowid, prompt, reply, style, preset, tags)
        SELECT new.id, g.prompt, g.text_reply, coalesce(s.name, ''), coalesce(p.name, ''), ''
        FROM generator_generation g
        LEFT JOIN generator_stylepreset s ON s.id = g.style_id
        LEFT JOIN generator_preset p ON p.id = g.preset_id
        WHERE g.id = new.generation_id;
    END""",
    """CREATE TRIGGER gallery_fts_image_ad AFTER DELETE ON generator_image BEGIN
        DELETE FROM gallery_image_fts WHERE rowid = old.id;
    END""",
    """CREATE TRIGGER gallery_fts_generation_au AFTER UPDATE OF prompt, text_reply, style_id, preset_id
        ON generator_generation
        WHEN old.prompt IS NOT new.prompt OR old.text_reply IS NOT new.text_reply
          OR old.style_id IS NOT new.style_id OR old.preset_id IS NOT new.preset_id
    BEGIN
        UPDATE gallery_image_fts SET prompt = new.prompt, reply = new.text_reply,
            style = coalesce((SELECT name FROM generator_stylepreset WHERE id = new.style_id), ''),
            preset = coalesce((SELECT name FROM generator_preset WHERE id = new.preset_id), '')
        WHERE rowid IN (SELECT id FROM generator_image WHERE generation_id = new.id);
    END""",
    """CREATE TRIGGER gallery_fts_tags_ai AFTER INSERT ON generator_image_tags BEGIN
        UPDATE gallery_image_fts SET tags = coalesce((SELECT group_concat(t.name, ' ')
            FROM generator_image_tags it JOIN generator_tag t ON t.id = it.tag_id
            WHERE it.image_id = new.image_id), '')
        WHERE rowid = new.image_id;
    END""",
    """CREATE TRIGGER gallery_fts_tags_ad AFTER DELETE ON generator_image_tags BEGIN
        UPDATE gallery_image_fts SET tags = coalesce((SELECT group_concat(t.name, ' ')
            FROM generator_image_tags it JOIN generator_tag t ON t.id = it.tag_id
            WHERE it.image_id = old.image_id), '')
        WHERE rowid = old.image_id;
    END""",
    """CREATE TRIGGER gallery_fts_tag_au AFTER UPDATE OF name ON generator_tag
        WHEN old.name IS NOT new.name
    BEGIN
        UPDATE gallery_image_fts SET tags = coalesce((SELECT group_concat(t.name, ' ')
            FROM generator_image_tags it JOIN generator_tag t ON t.id = it.tag_id
            WHERE it.image_id = gallery_image_fts.rowid), '')
        WHERE rowid IN (SELECT image_id FROM generator_image_tags WHERE tag_id = new.id);
    END""",
    """CREATE TRIGGER gallery_fts_style_au AFTER UPDATE OF name ON generator_stylepreset
        WHEN old.name IS NOT new.name
    BEGIN
        UPDATE gallery_image_fts SET style = new.name WHERE rowid IN (
            SELECT i.id FROM generator_image i JOIN generator_generation g ON g.id = i.generation_id
            WHERE g.style_id = new.id);
    END""",
    """CREATE TRIGGER gallery_fts_preset_au AFTER UPDATE OF name ON generator_preset
        WHEN old.name IS NOT new.name
    BEGIN
        UPDATE gallery_image_fts SET preset = new.name WHERE rowid IN (
            SELECT i.id FROM generator_image i JOIN generator_generation g ON g.id = i.generation_id
            WHERE g.preset_id = new.id);
    END""",
    # Backfill rows that existed before this migration.
    """INSERT INTO gallery_image_fts (rowid, prompt, reply, style, preset, tags)
        SELECT i.id, g.prompt, g.text_reply, coalesce(s.name, ''), coalesce(p.name, ''),
            coalesce((SELECT group_concat(t.name, ' ') FROM generator_image_tags it
                      JOIN generator_tag t ON t.id = it.tag_id WHERE it.image_id = i.id), '')
        FROM generator_image i JOIN generator_generation g ON g.id = i.generation_id
        LEFT JOIN generator_stylepreset s ON s.id = g.style_id
        LEFT JOIN generator_preset p ON p.id = g.preset_id""",
]

SQLITE_BACKWARD = [
    *(
        f"DROP TRIGGER IF EXISTS {name}"
        for name in (
            "gallery_fts_image_ai",
            "gallery_fts_image_ad",
            "gallery_fts_generation_au",
            "gallery_fts_tags_ai",
            "gallery_fts_tags_ad",
            "gallery_fts_tag_au",
            "gallery_fts_style_au",
            "gallery_fts_preset_au",
        )
    ),
    "DROP TABLE IF EXISTS gallery_image_fts",
]

POSTGRES_FORWARD = [
    "ALTER TABLE generator_image ADD COLUMN search_vector tsvector",
    # Prompt and tags weigh most, then style and preset names, then the model's reply.
    """CREATE FUNCTION gallery_image_document(image_id bigint, gen_id bigint) RETURNS tsvector
    LANGUAGE sql STABLE AS $$
        SELECT setweight(to_tsvector('english', coalesce(g.prompt, '')), 'A')
            || setweight(to_tsvector('english', coalesce((
                SELECT string_agg(t.name, ' ') FROM generator_image_tags it
                JOIN generator_tag t ON t.id = it.tag_id WHERE it.image_id = $1), '')), 'A')
            || setweight(to_tsvector('english', coalesce(s.name, '') || ' ' || coalesce(p.name, '')), 'B')
            || setweight(to_tsvector('english', coalesce(g.text_reply, '')), 'C')
        FROM generator_generation g
        LEFT JOIN generator_stylepreset s ON s.id = g.style_id
        LEFT JOIN generator_preset p ON p.id = g.preset_id
        WHERE g.id = $2
    $$""",
    """CREATE FUNCTION gallery_image_bi() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.search_vector := gallery_image_document(NEW.id, NEW.generation_id);
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER gallery_image_bi BEFORE INSERT ON generator_image
        FOR EACH ROW EXECUTE FUNCTION gallery_image_bi()""",
    """CREATE FUNCTION gallery_generation_au() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE generator_image SET search_vector = gallery_image_document(id, generation_id)
        WHERE generation_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER gallery_generation_au AFTER UPDATE OF prompt, text_reply, style_id, preset_id
        ON generator_generation FOR EACH ROW
        WHEN (OLD.prompt IS DISTINCT FROM NEW.prompt OR OLD.text_reply IS DISTINCT FROM NEW.text_reply
              OR OLD.style_id IS DISTINCT FROM NEW.style_id OR OLD.preset_id IS DISTINCT FROM NEW.preset_id)
        EXECUTE FUNCTION gallery_generation_au()""",
    """CREATE FUNCTION gallery_image_tags_aid() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE target bigint;
    BEGIN
        IF TG_OP = 'DELETE' THEN target := OLD.image_id; ELSE target := NEW.image_id; END IF;
        UPDATE generator_image SET search_vector = gallery_image_document(id, generation_id) WHERE id = target;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER gallery_image_tags_aid AFTER INSERT OR DELETE ON generator_image_tags
        FOR EACH ROW EXECUTE FUNCTION gallery_image_tags_aid()""",
    """CREATE FUNCTION gallery_names_au() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_TABLE_NAME = 'generator_tag' THEN
            UPDATE generator_image SET search_vector = gallery_image_document(id, generation_id)
            WHERE id IN (SELECT image_id FROM generator_image_tags WHERE tag_id = NEW.id);
        ELSIF TG_TABLE_NAME = 'generator_stylepreset' THEN
            UPDATE generator_image SET search_vector = gallery_image_document(id, generation_id)
            WHERE generation_id IN (SELECT id FROM generator_generation WHERE style_id = NEW.id);
        ELSE
            UPDATE generator_image SET search_vector = gallery_image_document(id, generation_id)
            WHERE generation_id IN (SELECT id FROM generator_generation WHERE preset_id = NEW.id);
        END IF;
        RETURN NULL;
    END $$""",
    *(
        f"""CREATE TRIGGER gallery_names_au AFTER UPDATE OF name ON {table} FOR EACH ROW
            WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION gallery_names_au()"""
        for table in ("generator_tag", "generator_stylepreset", "generator_preset")
    ),
    "UPDATE generator_image SET search_vector = gallery_image_document(id, generation_id)",
    "CREATE INDEX gallery_image_search ON generator_image USING gin (search_vector)",
]

POSTGRES_BACKWARD = [
    *(
        f"DROP TRIGGER IF EXISTS gallery_names_au ON {table}"
        for table in ("generator_tag", "generator_stylepreset", "generator_preset")
    ),
    "DROP TRIGGER IF EXISTS gallery_image_tags_aid ON generator_image_tags",
    "DROP TRIGGER IF EXISTS gallery_generation_au ON generator_generation",
    "DROP TRIGGER IF EXISTS gallery_image_bi ON generator_image",
    "DROP FUNCTION IF EXISTS gallery_names_au(), gallery_image_tags_aid(), gallery_generation_au(), gallery_image_bi()",
    "DROP FUNCTION IF EXISTS gallery_image_document(bigint, bigint)",
    "ALTER TABLE generator_image DROP COLUMN IF EXISTS search_vector",
]


def _run(statements: dict):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("generator", "0002_seed_defaults"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
