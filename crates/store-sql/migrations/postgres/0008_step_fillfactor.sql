-- Room on each page for the engine's updates of running sessions and their VM
-- tasks: an update whose new row version fits on the same page and changes no
-- indexed column is a heap-only tuple (HOT) update, which writes no index
-- entries. With full pages every update of a task wrote a new entry in the
-- primary key index too. Applies to pages written from now on.
ALTER TABLE session_tasks SET (fillfactor = 70);
ALTER TABLE failover_sessions SET (fillfactor = 85);
