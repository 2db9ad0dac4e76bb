-- The per-day session counts of migration 4, kept once per statement instead of
-- once per row: a step that ends 100,000 sessions ran the row trigger 100,000
-- times (4.7 s of an 8.3 s update). Each statement now adds its net change per
-- (result, tenant, day) from its transition tables, a few hundred upserts at most.
DROP TRIGGER session_counts_insert_delete ON failover_sessions;
DROP TRIGGER session_counts_update ON failover_sessions;
DROP FUNCTION entman_session_counts();

CREATE FUNCTION entman_session_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_counts (result, tenant_id, day, n)
    SELECT result, tenant_id, creation_time / 86400000000, COUNT(*) FROM new_rows
    GROUP BY result, tenant_id, creation_time / 86400000000
    ON CONFLICT (result, tenant_id, day) DO UPDATE SET n = session_counts.n + excluded.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION entman_session_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE session_counts SET n = session_counts.n - o.n
    FROM (SELECT result, tenant_id, creation_time / 86400000000 AS day, COUNT(*) AS n
          FROM old_rows GROUP BY result, tenant_id, creation_time / 86400000000) AS o
    WHERE session_counts.result = o.result AND session_counts.tenant_id = o.tenant_id
      AND session_counts.day = o.day;
    RETURN NULL;
END
$$;

CREATE FUNCTION entman_session_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_counts (result, tenant_id, day, n)
    SELECT result, tenant_id, day, SUM(d) FROM (
        SELECT result, tenant_id, creation_time / 86400000000 AS day, -1 AS d FROM old_rows
        UNION ALL
        SELECT result, tenant_id, creation_time / 86400000000 AS day, 1 AS d FROM new_rows
    ) AS moved
    GROUP BY result, tenant_id, day
    HAVING SUM(d) <> 0
    ON CONFLICT (result, tenant_id, day) DO UPDATE SET n = session_counts.n + excluded.n;
    RETURN NULL;
END
$$;

CREATE TRIGGER session_counts_insert AFTER INSERT ON failover_sessions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION entman_session_counts_add();

CREATE TRIGGER session_counts_delete AFTER DELETE ON failover_sessions
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION entman_session_counts_remove();

CREATE TRIGGER session_counts_update AFTER UPDATE ON failover_sessions
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION entman_session_counts_move();
