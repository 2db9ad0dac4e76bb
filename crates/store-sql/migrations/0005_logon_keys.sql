-- Tokens became the Base64 of the SessionId (auth.md §2.2), so a stored SessionId
-- would be a stored token. From now on `logon_sessions.id` holds a key derived from
-- the SessionId by a one-way hash. Sessions made before this cannot be mapped to
-- such keys; they end here (their tasks go with them), and their clients log on again.
DELETE FROM tasks;
DELETE FROM logon_sessions;
