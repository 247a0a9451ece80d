-- The HTTP status the gateway answered (0 for RPCs): the gRPC status name alone cannot tell a body over the
-- size limit (413) from a full queue (429), both RESOURCE_EXHAUSTED.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS http_status UInt16 DEFAULT 0 AFTER status
