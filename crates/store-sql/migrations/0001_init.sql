-- entman schema, version 1. Written in the SQL that SQLite and PostgreSQL share:
-- TEXT for strings and GUIDs, BIGINT for integers, booleans (0/1) and instants
-- (microseconds since the Unix epoch, UTC).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE backup_servers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL UNIQUE,
    description   TEXT NOT NULL,
    port          BIGINT NOT NULL,
    version       TEXT NOT NULL,
    wcf_port      BIGINT,
    thumbprint    TEXT,
    username      TEXT NOT NULL,
    password_hash TEXT
);

CREATE TABLE tenants (
    id               TEXT PRIMARY KEY,
    backup_server_id TEXT NOT NULL REFERENCES backup_servers (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    enabled          BIGINT NOT NULL,
    detail           TEXT NOT NULL
);
CREATE INDEX tenants_by_name ON tenants (name);

CREATE TABLE tenant_logins (
    login_key     TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL
);

CREATE TABLE replicas (
    id               TEXT PRIMARY KEY,
    backup_server_id TEXT NOT NULL REFERENCES backup_servers (id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    platform         TEXT NOT NULL
);
CREATE INDEX replicas_by_tenant ON replicas (tenant_id);

CREATE TABLE vm_replica_points (
    id              TEXT PRIMARY KEY,
    replica_id      TEXT NOT NULL REFERENCES replicas (id) ON DELETE CASCADE,
    vm_name         TEXT NOT NULL,
    vm_display_name TEXT NOT NULL,
    creation_time   BIGINT NOT NULL,
    point_type      TEXT NOT NULL,
    state           TEXT NOT NULL
);
CREATE INDEX points_by_replica_vm ON vm_replica_points (replica_id, vm_name, creation_time);
CREATE INDEX points_by_time ON vm_replica_points (creation_time);

CREATE TABLE plans (
    id               TEXT PRIMARY KEY,
    backup_server_id TEXT NOT NULL REFERENCES backup_servers (id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    description      TEXT,
    post_enabled     BIGINT NOT NULL,
    post_command     TEXT NOT NULL,
    pre_enabled      BIGINT NOT NULL,
    pre_command      TEXT NOT NULL,
    state            TEXT NOT NULL
);
CREATE INDEX plans_by_tenant ON plans (tenant_id);

CREATE TABLE plan_vms (
    id          TEXT PRIMARY KEY,
    plan_id     TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    ord         BIGINT NOT NULL,
    replica_id  TEXT NOT NULL REFERENCES replicas (id) ON DELETE CASCADE,
    duration_ms BIGINT NOT NULL,
    outcome     TEXT NOT NULL,
    message     TEXT
);
CREATE INDEX plan_vms_by_plan ON plan_vms (plan_id, ord);

CREATE TABLE failover_sessions (
    id               TEXT PRIMARY KEY,
    plan_id          TEXT NOT NULL,
    plan_name        TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    backup_server_id TEXT NOT NULL REFERENCES backup_servers (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    creation_time    BIGINT NOT NULL,
    end_time         BIGINT,
    state            TEXT NOT NULL,
    result           TEXT NOT NULL,
    progress         BIGINT NOT NULL,
    failure_message  TEXT
);
CREATE INDEX sessions_by_time ON failover_sessions (creation_time, id);
CREATE INDEX sessions_by_tenant_time ON failover_sessions (tenant_id, creation_time);

CREATE TABLE session_tasks (
    session_id      TEXT NOT NULL REFERENCES failover_sessions (id) ON DELETE CASCADE,
    idx             BIGINT NOT NULL,
    vm_name         TEXT NOT NULL,
    point_id        TEXT,
    point_name      TEXT,
    creation_time   BIGINT NOT NULL,
    end_time        BIGINT,
    state           TEXT NOT NULL,
    result          TEXT NOT NULL,
    progress        BIGINT NOT NULL,
    failure_message TEXT,
    PRIMARY KEY (session_id, idx)
);

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    roles         TEXT NOT NULL
);

CREATE TABLE logon_sessions (
    id             TEXT PRIMARY KEY,
    token_hash     TEXT NOT NULL UNIQUE,
    user_name      TEXT NOT NULL,
    principal_kind TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    roles          TEXT NOT NULL,
    api_version    TEXT NOT NULL,
    created        BIGINT NOT NULL,
    last_seen      BIGINT NOT NULL,
    last_task      BIGINT NOT NULL
);
CREATE INDEX logons_by_last_seen ON logon_sessions (last_seen);

CREATE TABLE tasks (
    logon_session_id   TEXT NOT NULL REFERENCES logon_sessions (id) ON DELETE CASCADE,
    number             BIGINT NOT NULL,
    operation          TEXT NOT NULL,
    state              TEXT NOT NULL,
    success            BIGINT,
    message            TEXT,
    related_session_id TEXT,
    related_name       TEXT,
    creation_time      BIGINT NOT NULL,
    PRIMARY KEY (logon_session_id, number)
);
