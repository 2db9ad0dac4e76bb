-- Slice 2: the runs of jobs and the processing of each VM in them. A run's course
-- (every task's start, end and outcome) is written when the run is created and
-- rewritten only by a stop; states, progress and results are derived from it and
-- the clock when read.
CREATE TABLE job_sessions (
    id               TEXT PRIMARY KEY,
    job_id           TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    backup_server_id TEXT NOT NULL,
    kind             TEXT NOT NULL,
    job_name         TEXT NOT NULL,
    job_type         TEXT NOT NULL,
    name             TEXT NOT NULL,
    run_trigger      TEXT NOT NULL,
    creation_time    BIGINT NOT NULL,
    tasks_time       BIGINT NOT NULL,
    end_time         BIGINT NOT NULL,
    stop_time        BIGINT,
    stop_progress    BIGINT,
    final_progress   BIGINT
);
CREATE INDEX job_sessions_by_time ON job_sessions (kind, creation_time, id);
CREATE INDEX job_sessions_by_job ON job_sessions (job_id, creation_time, id);

CREATE TABLE job_task_sessions (
    id            TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES job_sessions (id) ON DELETE CASCADE,
    position      BIGINT NOT NULL,
    vm_name       TEXT NOT NULL,
    vm_ref        TEXT NOT NULL,
    name          TEXT NOT NULL,
    point_time    BIGINT NOT NULL,
    vm_point_id   TEXT NOT NULL,
    restore_point TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    start_time    BIGINT NOT NULL,
    end_time      BIGINT NOT NULL,
    outcome       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL
);
CREATE INDEX job_task_sessions_by_session ON job_task_sessions (session_id, position);
