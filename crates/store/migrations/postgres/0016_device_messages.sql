-- Silent two-way text (issue 21, part 5): a device polls for the dispatcher's questions on the incidents it opened.
-- The questions and answers themselves are incident events; this index makes the poll a lookup by device.
CREATE INDEX incidents_device ON incidents (device_id, status);
