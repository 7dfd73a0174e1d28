-- Subscriber imports (admin upload or `gazette subscribers import`): the
-- progress the admin's bar polls, and the report of rejected rows kept for
-- the editors afterwards.
CREATE TABLE imports (
    id BIGSERIAL PRIMARY KEY,
    newsletter_id BIGINT NOT NULL REFERENCES newsletters (id) ON DELETE CASCADE,
    file_name TEXT NOT NULL,
    -- 'admin' or 'cli'
    source TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    -- data rows in the file, and how many of them are handled so far
    total_rows BIGINT NOT NULL DEFAULT 0,
    processed_rows BIGINT NOT NULL DEFAULT 0,
    added_active BIGINT NOT NULL DEFAULT 0,
    added_pending BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    -- JSON array of {line, email, code, reason}, written when the import ends
    report TEXT,
    error TEXT,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX imports_created ON imports (created_at);
