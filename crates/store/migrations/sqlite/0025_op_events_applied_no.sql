-- Joint operations: this node's order of application is global (`applied_no` across all operations), and every
-- write that applies an event reads its maximum. The index of 0021 leads with the operation, so that read scanned
-- every event held; this one makes it a single index lookup, whatever the history's length.
CREATE INDEX op_events_applied_no ON op_events (applied_no);
