-- First statements of every install and update script (SECURITY.md, "Scripts").
--
-- CREATE EXTENSION and ALTER EXTENSION ... UPDATE run as the extension's owner: in InsForge
-- the bootstrap superuser, on behalf of project_admin (insforge_pg_utils). PostgreSQL reuses a
-- schema named in the control file when it exists, so a role with CREATE on the database
-- could create `insforge` first and put functions there that the script would then call as
-- the superuser (the CVE-2022-2625 family). So before anything else, with a search path that
-- holds nothing anyone else can create (pg_catalog first, temporary relations last), the
-- script refuses (42501, naming the schema) unless:
--   * the extension's schema is `insforge` and belongs to the extension's owner;
--   * `x402` does not exist yet (install) or is the extension's own schema, owned by its owner;
--   * neither holds an object that is not part of the extension.
-- Then the rest of the script runs with `insforge` first in its search path (where pgrx's
-- unqualified CREATE FUNCTION statements put their functions) and pg_temp last.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
DO $guard$
DECLARE
    ext record;
    x402_ns record;
    foreign_objects text;
BEGIN
    SELECT e.oid, e.extowner, e.extnamespace, n.nspname, n.nspowner
      INTO ext
      FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
     WHERE e.extname OPERATOR(pg_catalog.=) 'insforge_integrations';
    IF ext.nspname OPERATOR(pg_catalog.<>) 'insforge' THEN
        RAISE EXCEPTION 'insforge_integrations must live in schema insforge, not %', ext.nspname
            USING ERRCODE = '42501',
                  HINT = 'Schema insforge was renamed or replaced after the extension was installed; nothing was changed. A superuser must inspect it.';
    END IF;
    IF ext.nspowner OPERATOR(pg_catalog.<>) ext.extowner THEN
        RAISE EXCEPTION 'schema insforge belongs to %, not to the extension''s owner %: insforge_integrations refuses to run its script in a schema another role created',
                pg_catalog.pg_get_userbyid(ext.nspowner), pg_catalog.pg_get_userbyid(ext.extowner)
            USING ERRCODE = '42501',
                  HINT = 'Objects in that schema would run as the extension''s owner. Drop the schema (or, after checking every object in it, ALTER SCHEMA insforge OWNER TO the extension''s owner), then run the command again. Nothing was changed.';
    END IF;
    SELECT n.oid, n.nspowner,
           EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
                      AND d.objid OPERATOR(pg_catalog.=) n.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
                      AND d.refobjid OPERATOR(pg_catalog.=) ext.oid) AS member
      INTO x402_ns
      FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'x402';
    IF x402_ns.oid IS NOT NULL AND (NOT x402_ns.member OR x402_ns.nspowner OPERATOR(pg_catalog.<>) ext.extowner) THEN
        RAISE EXCEPTION 'schema x402 exists and was not created by insforge_integrations (owner: %)',
                pg_catalog.pg_get_userbyid(x402_ns.nspowner)
            USING ERRCODE = '42501',
                  HINT = 'insforge_integrations keeps its x402 functions in a schema of its own. Rename or drop that schema, then run the command again. Nothing was changed.';
    END IF;
    -- Objects in either schema that are not members of the extension (nor parts of a member:
    -- a member table's row type, indexes, TOAST table, sequences, array types).
    SELECT pg_catalog.string_agg(o.descr, ', ' ORDER BY o.descr) INTO foreign_objects
      FROM (SELECT pg_catalog.pg_describe_object(x.classid, x.objid, 0) AS descr, x.classid, x.objid
              FROM (SELECT 'pg_catalog.pg_class'::pg_catalog.regclass AS classid, c.oid AS objid, c.relnamespace AS ns
                      FROM pg_catalog.pg_class c WHERE c.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['i', 'I', 't']::"char"[])
                    UNION ALL SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid, p.pronamespace FROM pg_catalog.pg_proc p
                    UNION ALL SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid, t.typnamespace FROM pg_catalog.pg_type t
                               WHERE t.typrelid OPERATOR(pg_catalog.=) 0 AND t.typelem OPERATOR(pg_catalog.=) 0
                    UNION ALL SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, o.oid, o.oprnamespace FROM pg_catalog.pg_operator o
                    UNION ALL SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass, c.oid, c.collnamespace FROM pg_catalog.pg_collation c
                    UNION ALL SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass, c.oid, c.connamespace FROM pg_catalog.pg_conversion c
                    UNION ALL SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass, c.oid, c.opcnamespace FROM pg_catalog.pg_opclass c
                    UNION ALL SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass, f.oid, f.opfnamespace FROM pg_catalog.pg_opfamily f
                    UNION ALL SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass, c.oid, c.cfgnamespace FROM pg_catalog.pg_ts_config c
                    UNION ALL SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass, d.oid, d.dictnamespace FROM pg_catalog.pg_ts_dict d
                    UNION ALL SELECT 'pg_catalog.pg_ts_parser'::pg_catalog.regclass, p.oid, p.prsnamespace FROM pg_catalog.pg_ts_parser p
                    UNION ALL SELECT 'pg_catalog.pg_ts_template'::pg_catalog.regclass, t.oid, t.tmplnamespace FROM pg_catalog.pg_ts_template t
                    UNION ALL SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, s.oid, s.stxnamespace FROM pg_catalog.pg_statistic_ext s
                   ) x
             WHERE x.ns OPERATOR(pg_catalog.=) ANY (ARRAY[ext.extnamespace, x402_ns.oid])) o
     WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid OPERATOR(pg_catalog.=) o.classid AND d.objid OPERATOR(pg_catalog.=) o.objid
                          AND (d.deptype OPERATOR(pg_catalog.=) 'e' AND d.refobjid OPERATOR(pg_catalog.=) ext.oid
                               OR d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['i', 'a']::"char"[])
                                  AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend m
                                               WHERE m.classid OPERATOR(pg_catalog.=) d.refclassid
                                                 AND m.objid OPERATOR(pg_catalog.=) d.refobjid
                                                 AND m.deptype OPERATOR(pg_catalog.=) 'e'
                                                 AND m.refobjid OPERATOR(pg_catalog.=) ext.oid)));
    IF foreign_objects IS NOT NULL THEN
        RAISE EXCEPTION 'schema insforge or x402 holds objects that are not part of insforge_integrations: %', foreign_objects
            USING ERRCODE = '42501',
                  HINT = 'The extension''s script would run beside them as the extension''s owner. Move or drop them, then run the command again. Nothing was changed.';
    END IF;
END
$guard$;
SELECT pg_catalog.set_config('search_path', 'insforge, pg_catalog, pg_temp', true);
