-- Two functions on the signup path were written in SQL. PostgreSQL (before
-- 18) parses and plans a SQL function's body again on every statement
-- that calls it, where PL/pgSQL keeps its plans for the session; the
-- parser and planner showed in the database's profile under a burst of
-- signups. Same results, in PL/pgSQL.

-- The subscriber counter (0004): its upsert now sits in the trigger itself.
CREATE OR REPLACE FUNCTION subscribers_count() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO subscriber_counts (status, shard, n)
        VALUES (OLD.status, pg_backend_pid() % 16, -1)
        ON CONFLICT (status, shard) DO UPDATE SET n = subscriber_counts.n + excluded.n;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO subscriber_counts (status, shard, n)
        VALUES (NEW.status, pg_backend_pid() % 16, 1)
        ON CONFLICT (status, shard) DO UPDATE SET n = subscriber_counts.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
DROP FUNCTION subscriber_count_add(TEXT, BIGINT);

-- An address's trigrams (0006), for the search index. The same set of
-- trigrams as before, in the order they appear rather than sorted: the GIN
-- index and the search's `@>` see only the set, so the index built from the
-- old function stays valid and needs no rebuild.
CREATE OR REPLACE FUNCTION address_trigrams(address TEXT) RETURNS TEXT[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    trigrams TEXT[] := '{}';
    trigram TEXT;
BEGIN
    FOR i IN 1 .. length(address) - 2 LOOP
        trigram := substr(address, i, 3);
        IF NOT trigram = ANY (trigrams) THEN
            trigrams := trigrams || trigram;
        END IF;
    END LOOP;
    RETURN trigrams;
END
$$;
