-- The planned course of each VM task of a session, fixed when the session
-- starts, so that a restarted server resumes running failovers exactly.
ALTER TABLE session_tasks ADD COLUMN planned_ms BIGINT;
ALTER TABLE session_tasks ADD COLUMN planned_outcome TEXT;
ALTER TABLE session_tasks ADD COLUMN planned_message TEXT;
CREATE INDEX sessions_by_state ON failover_sessions (state);
CREATE INDEX sessions_by_plan ON failover_sessions (plan_id, state)
