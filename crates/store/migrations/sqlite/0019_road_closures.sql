-- Road closures (issue 20): dispatchers close road segments or whole areas and reopen them. The geometry is the
-- GeoJSON as given (a point or points: the nearest road segment; a polygon or multipolygon: every segment running
-- through it); the server resolves it against whichever road network it loaded, so a re-imported network keeps
-- its closures. Roads are public: nothing here is sealed. Who closed and reopened is also in the `road.closed` and
-- `road.reopened` audit entries.
CREATE TABLE road_closures (
    id TEXT PRIMARY KEY,
    closed_at_ms INTEGER NOT NULL,
    closed_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    geometry TEXT NOT NULL,
    reopened_at_ms INTEGER,
    reopened_by TEXT
);
CREATE INDEX road_closures_by_time ON road_closures (closed_at_ms);
