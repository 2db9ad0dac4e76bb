-- Every write of a session row stamps it with the revision of its transaction,
-- so that an in-memory query index (crate entman-index) can read what changed
-- since it last looked, whichever process or node wrote it. The counter row is
-- updated first in every session-writing transaction: its row lock orders those
-- transactions, so revisions become visible in increasing order. `epoch` moves
-- when sessions are deleted (readers then reload everything).
ALTER TABLE failover_sessions ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sessions_by_revision ON failover_sessions (revision, id);
CREATE TABLE session_revision (
    id       INTEGER PRIMARY KEY,
    revision BIGINT NOT NULL,
    epoch    BIGINT NOT NULL
);
INSERT INTO session_revision (id, revision, epoch) VALUES (1, 0, 0);
