-- A user's sessions carry the version they were started under; bumping it
-- (a password change, "log out everywhere", a role change) ends every
-- session started before. Sessions from before this column read as 1.
ALTER TABLE users ADD COLUMN session_version BIGINT NOT NULL DEFAULT 1;
