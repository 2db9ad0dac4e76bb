-- Counts of sessions per result, tenant and UTC day, kept by a trigger, so that the
-- query service counts "Result == X within a time range" from a few hundred
-- buckets instead of scanning every matching row.
CREATE TABLE session_counts (
    result    TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    day       BIGINT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (result, tenant_id, day)
);

INSERT INTO session_counts (result, tenant_id, day, n)
SELECT result, tenant_id, creation_time / 86400000000, COUNT(*) FROM failover_sessions
GROUP BY result, tenant_id, creation_time / 86400000000;

CREATE FUNCTION entman_session_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE session_counts SET n = n - 1
        WHERE result = OLD.result AND tenant_id = OLD.tenant_id AND day = OLD.creation_time / 86400000000;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO session_counts (result, tenant_id, day, n)
        VALUES (NEW.result, NEW.tenant_id, NEW.creation_time / 86400000000, 1)
        ON CONFLICT (result, tenant_id, day) DO UPDATE SET n = session_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER session_counts_insert_delete AFTER INSERT OR DELETE ON failover_sessions
FOR EACH ROW EXECUTE FUNCTION entman_session_counts();

CREATE TRIGGER session_counts_update AFTER UPDATE OF result ON failover_sessions
FOR EACH ROW WHEN (OLD.result IS DISTINCT FROM NEW.result) EXECUTE FUNCTION entman_session_counts();
