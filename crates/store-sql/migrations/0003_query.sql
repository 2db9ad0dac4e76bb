-- Columns and indexes of the query service: the display name of a VM replica
-- point and a vCloud tenant's organization reference become queryable columns
-- (filled for existing rows at start), and sessions get an index for the common
-- "result and creation time range, newest first" query.
ALTER TABLE vm_replica_points ADD COLUMN name TEXT;
ALTER TABLE tenants ADD COLUMN org_ref TEXT;
CREATE INDEX sessions_by_result_time ON failover_sessions (result, creation_time, id);
CREATE INDEX points_by_replica_time ON vm_replica_points (replica_id, creation_time)
