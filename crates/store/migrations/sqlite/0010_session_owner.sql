-- Ending every session of a staff account (password reset, role change, disabling) looks sessions up by owner.
CREATE INDEX sessions_username ON sessions (username);
