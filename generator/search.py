"""Full-text search over gallery images, one function for both databases.

PostgreSQL: `generator_image.search_vector` (tsvector, GIN index) queried with
websearch_to_tsquery and ranked with ts_rank_cd. SQLite: the FTS5 table
`gallery_image_fts` (rowid = image id) queried with the same websearch syntax
translated to FTS5, ranked with bm25. Both are kept in sync by database triggers
(migration 0003_gallery_search), so every write path is covered.

Indexed per image: the prompt, the model's text reply, the style and preset names
and the image's tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, F, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Highlight markers: control characters that cannot come from a form field, so the
# text can be HTML-escaped first and the markers turned into <mark> afterwards.
_START, _STOP = "\x02", "\x03"
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def _vendor() -> str:
    return connection.vendor


def websearch_to_fts5(text: str) -> str:
    """Translate web-search syntax (words, "phrases", or, -not) to an FTS5 query.

    Every term is quoted, so FTS5 operators and punctuation typed by the user are
    taken literally and can never cause a syntax error. Returns "" when no
    positive term is left (FTS5 cannot express a pure negation).
    """
    groups: list[list[str]] = [[]]
    negatives: list[str] = []
    for match in _TOKEN.finditer(text):
        negated, phrase, word = match.group(1), match.group(2), match.group(3)
        if word is not None:
            if word.lower() == "or":
                if groups[-1]:
                    groups.append([])
                continue
            negated, phrase = ("-", word[1:]) if word.startswith("-") and len(word) > 1 else ("", word)
        words = re.findall(r"\w+", phrase or "")
        if not words:
            continue
        term = '"' + " ".join(words) + '"'
        (negatives if negated else groups[-1]).append(term)
    positive = " OR ".join("(" + " AND ".join(g) + ")" for g in groups if g)
    if not positive:
        return ""
    return positive + "".join(f" NOT {n}" for n in negatives)


def search(queryset: QuerySet, text: str, *, rank: bool = False) -> QuerySet:
    """Images of `queryset` matching `text`; with rank=True annotate `search_rank` (higher is better)."""
    text = (text or "").strip()
    if not text:
        return queryset
    if _vendor() == "postgresql":
        tsquery = "websearch_to_tsquery('english', %s)"
        queryset = queryset.filter(
            RawSQL(f'"generator_image"."search_vector" @@ {tsquery}', [text], output_field=BooleanField())
        )
        if rank:
            queryset = queryset.annotate(
                search_rank=RawSQL(f'ts_rank_cd("generator_image"."search_vector", {tsquery})', [text])
            )
        return queryset
    fts = websearch_to_fts5(text)
    if not fts:
        return (queryset.annotate(search_rank=Value(0.0)) if rank else queryset).none()
    # A join on the FTS5 table (model ImageText), so SQLite drives the query from the
    # match and reads bm25 as it goes instead of re-running the match per row.
    queryset = queryset.filter(fts__document__match=fts)
    if rank:
        # bm25 is lower-is-better; negate so both databases sort descending.
        queryset = queryset.annotate(search_rank=-F("fts__rank"))
    return queryset


@dataclass(frozen=True)
class Highlight:
    prompt: SafeString
    reply: SafeString  # empty unless the reply itself matched


def _marked(text: str) -> SafeString:
    return mark_safe(escape(text or "").replace(_START, "<mark>").replace(_STOP, "</mark>"))


def highlights(image_ids: list[int], text: str) -> dict[int, Highlight]:
    """Prompt and reply of each image with the matched words wrapped in <mark> (one query)."""
    text = (text or "").strip()
    if not image_ids or not text:
        return {}
    with connection.cursor() as cursor:
        if _vendor() == "postgresql":
            options = f"StartSel={_START}, StopSel={_STOP}, HighlightAll=true"
            cursor.execute(
                "SELECT i.id, ts_headline('english', g.prompt, q, %s), "
                "CASE WHEN to_tsvector('english', g.text_reply) @@ q "
                "THEN ts_headline('english', g.text_reply, q, %s) ELSE '' END "
                "FROM generator_image i JOIN generator_generation g ON g.id = i.generation_id, "
                "websearch_to_tsquery('english', %s) q WHERE i.id = ANY(%s)",
                [options, f"StartSel={_START}, StopSel={_STOP}, MaxFragments=1", text, list(image_ids)],
            )
        else:
            fts = websearch_to_fts5(text)
            if not fts:
                return {}
            placeholders = ", ".join("%s" for _ in image_ids)
            cursor.execute(
                f"SELECT rowid, highlight(gallery_image_fts, 0, %s, %s), "
                f"snippet(gallery_image_fts, 1, %s, %s, '…', 24) FROM gallery_image_fts "
                f"WHERE gallery_image_fts MATCH %s AND rowid IN ({placeholders})",
                [_START, _STOP, _START, _STOP, fts, *image_ids],
            )
        rows = cursor.fetchall()
    result = {}
    for pk, prompt, reply in rows:
        result[pk] = Highlight(prompt=_marked(prompt), reply=_marked(reply) if reply and _START in reply else "")
    return result
