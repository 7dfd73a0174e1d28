-- Two costs of every new subscriber, found in the database's profile under
-- a burst of signups (now one statement a group, see
-- src/subscriptions/signup/new_addresses.rs).

-- An address's trigrams (0006, 0009) without removing repeats: each
-- trigram was compared with all the ones before it (a fifth of the cost
-- of a subscriber's row; 20 µs a call against 6 µs now). GIN stores each
-- distinct key of a row once whatever the array holds, and `@>` compares
-- sets, so the index built from the old function stays valid and the
-- search finds the same rows.
CREATE OR REPLACE FUNCTION address_trigrams(address TEXT) RETURNS TEXT[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    trigrams TEXT[] := '{}';
BEGIN
    FOR i IN 1 .. length(address) - 2 LOOP
        trigrams := trigrams || substr(address, i, 3);
    END LOOP;
    RETURN trigrams;
END
$$;

-- The subscriber counters (0004, 0007) on insert: once a statement from
-- its new rows instead of two PL/pgSQL upserts a row. Updates and deletes
-- keep their row triggers (a trigger on a column list cannot see a
-- transition table, and neither is a burst).
DROP TRIGGER subscribers_count_insert ON subscribers;
DROP TRIGGER subscriber_growth_insert ON subscribers;
CREATE FUNCTION subscribers_count_inserted() RETURNS trigger AS $$
BEGIN
    INSERT INTO subscriber_counts AS c (status, shard, n)
    SELECT status, pg_backend_pid() % 16, COUNT(*) FROM new_rows GROUP BY status ORDER BY status
    ON CONFLICT (status, shard) DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO subscriber_growth AS g (day, shard, n)
    SELECT created_at / 86400000, pg_backend_pid() % 16, COUNT(*) FROM new_rows
    GROUP BY created_at / 86400000 ORDER BY created_at / 86400000
    ON CONFLICT (day, shard) DO UPDATE SET n = g.n + excluded.n;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER subscribers_count_insert AFTER INSERT ON subscribers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION subscribers_count_inserted();
