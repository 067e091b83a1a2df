-- Citus (docs/citus.md). On a Citus coordinator, row-level security of a distributed
-- table is evaluated on the workers, each of which has its own copy of the extension:
-- its own JWT key and its own public.requesting_user_id(). The operator's calls that
-- change those run on the workers too, from the coordinator, through
-- insforge._on_other_nodes() (src/citus.rs), which uses Citus's master_run_on_worker()
-- as the extension's owner (a superuser, like Citus's own node-to-node connections).
-- Without Citus every function here returns 0 and does nothing.

-- The Citus half of insforge.set_jwt_secret(key): SELECT insforge._set_jwt_secret(key) on
-- every worker. Runs as the extension's owner; touches only Citus's catalog and functions
-- (pg_dist_node, pg_dist_local_group, master_run_on_worker) and the extension's own
-- _set_jwt_secret() on the workers. The key is in the statement's text on each worker,
-- on the superuser's connection (visible there to superusers only).
CREATE FUNCTION insforge._propagate_jwt_secret(key text) RETURNS integer
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT insforge._on_other_nodes(pg_catalog.format('SELECT insforge._set_jwt_secret(%L)', key),
                                    'insforge.set_jwt_secret()')
$$;
REVOKE ALL ON FUNCTION insforge._propagate_jwt_secret(text) FROM PUBLIC;
COMMENT ON FUNCTION insforge._propagate_jwt_secret(text) IS
'Internal (SECURITY DEFINER as the extension''s owner, operators only): the Citus half of insforge.set_jwt_secret(); stores the key on every worker of a Citus coordinator and returns how many (0 without Citus).';

-- The Citus half of adopt_requesting_user_id(force) (adopt = true) and
-- release_requesting_user_id() (adopt = false): the same privileged step on every worker,
-- in place, as the coordinator did it.
CREATE FUNCTION insforge._propagate_requesting_user_id(adopt boolean, force boolean) RETURNS integer
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    -- On a worker Citus refuses DDL on a distributed object (the function is one when a
    -- distributed table's policy calls it) unless its DDL propagation is off for the
    -- statement: the change is the worker's own, as the coordinator's is.
    SELECT insforge._on_other_nodes(
        'WITH off AS MATERIALIZED (SELECT pg_catalog.set_config(''citus.enable_ddl_propagation'', ''off'', true)) SELECT '
        || CASE WHEN adopt THEN pg_catalog.format('insforge._adopt_requesting_user_id(%L::boolean)', force)
                ELSE 'insforge._release_requesting_user_id()' END
        || ' FROM off',
        CASE WHEN adopt THEN 'insforge.adopt_requesting_user_id()' ELSE 'insforge.release_requesting_user_id()' END)
$$;
REVOKE ALL ON FUNCTION insforge._propagate_requesting_user_id(boolean, boolean) FROM PUBLIC;
COMMENT ON FUNCTION insforge._propagate_requesting_user_id(boolean, boolean) IS
'Internal (SECURITY DEFINER as the extension''s owner, operators only): the Citus half of adopt_requesting_user_id() (adopt) and release_requesting_user_id() (not adopt): the same step on every worker of a Citus coordinator; returns how many (0 without Citus).';
