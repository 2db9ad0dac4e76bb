-- The engine looks up the unfinished sessions often; a partial index keeps that
-- cheap however long the history grows.
CREATE INDEX sessions_active ON failover_sessions (state) WHERE state <> 'Stopped';
