-- Slice 2: the jobs of the backup servers. The columns the server sorts, filters
-- and changes are their own; the rest of a job (schedule, retry options, the VMs
-- with their course) is its JSON definition, written once at world load.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    backup_server_id TEXT NOT NULL REFERENCES backup_servers (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    name_key         TEXT NOT NULL,
    job_type         TEXT NOT NULL,
    schedule_enabled BIGINT NOT NULL,
    definition       TEXT NOT NULL,
    UNIQUE (backup_server_id, name_key)
);
CREATE INDEX jobs_by_name ON jobs (name_key, id);
