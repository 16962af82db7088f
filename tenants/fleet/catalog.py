"""A schema's catalog as plain data: what two schemas must share to be "the same" (tables, columns, types,
defaults, indexes, constraints, triggers, sequences), with the schema's own name taken out. Used to prove that
a schema built by the DDL script or migrated by the fleet path equals one migrated by Django, and to size a
workspace."""

from __future__ import annotations

from typing import Any

from django.db import connection

_QUERIES: dict[str, str] = {
    "relations": """
        SELECT c.relname, c.relkind::text, c.relpersistence::text
        FROM pg_class c WHERE c.relnamespace = %(ns)s ORDER BY 1""",
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
               -- position among live columns: a dropped column leaves a gap in attnum, not in the shape
               row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = %(ns)s AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY 1, 2""",
    "indexes": """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE i.relnamespace = %(ns)s ORDER BY 1""",
    "constraints": """
        SELECT t.relname, k.conname, k.contype::text, pg_get_constraintdef(k.oid), k.condeferrable, k.condeferred
        FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
        WHERE k.connamespace = %(ns)s ORDER BY 1, 2""",
    "triggers": """
        SELECT c.relname, g.tgname, pg_get_triggerdef(g.oid)
        FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
        WHERE c.relnamespace = %(ns)s AND NOT g.tgisinternal ORDER BY 1, 2""",
    "sequences": """
        SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcycle,
               o.relname AS owned_by_table, oa.attname AS owned_by_column
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
        LEFT JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        LEFT JOIN pg_class o ON o.oid = d.refobjid
        LEFT JOIN pg_attribute oa ON oa.attrelid = d.refobjid AND oa.attnum = d.refobjsubid
        WHERE c.relnamespace = %(ns)s ORDER BY 1""",
}


def _namespace_oid(schema_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema_name])
        row = cursor.fetchone()
    if row is None:
        raise LookupError(f"schema {schema_name} does not exist")
    return int(row[0])


def schema_catalog(schema_name: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every object of `schema_name` that defines its shape, with the schema's name replaced by `<schema>`."""
    ns = _namespace_oid(schema_name)
    quoted = connection.ops.quote_name(schema_name)
    catalog: dict[str, list[tuple[Any, ...]]] = {}
    with connection.cursor() as cursor:
        for part, sql in _QUERIES.items():
            cursor.execute(sql, {"ns": ns})
            catalog[part] = [
                tuple(
                    v.replace(f"{quoted}.", "<schema>.").replace(f"{schema_name}.", "<schema>.")
                    if isinstance(v, str)
                    else v
                    for v in row
                )
                for row in cursor.fetchall()
            ]
    return catalog


def schema_footprint(schema_name: str) -> dict[str, int]:
    """How much one schema weighs: its relations by kind, its pg_attribute rows and its bytes on disk."""
    ns = _namespace_oid(schema_name)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE relkind IN ('r', 'p')), count(*) FILTER (WHERE relkind = 'i'),
                   count(*) FILTER (WHERE relkind = 'S'), count(*),
                   coalesce(sum(pg_total_relation_size(oid)) FILTER (WHERE relkind IN ('r', 'p', 'S', 'm')), 0)
            FROM pg_class WHERE relnamespace = %s""",
            [ns],
        )
        tables, indexes, sequences, relations, size = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = %s",
            [ns],
        )
        (attributes,) = cursor.fetchone()
    return {
        "tables": tables,
        "indexes": indexes,
        "sequences": sequences,
        "relations": relations,
        "attributes": attributes,
        "bytes": int(size),
    }
