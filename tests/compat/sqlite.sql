-- `hakmem compat` sqlite3: create, fill, index, query, update, delete and vacuum a database.
-- hakmem compat replaces @ROWS@ with the row count (100000 bounded, more with --full).
-- Every query orders its rows, so the output is the same byte for byte on any malloc.
.bail on
.headers off
.mode list
PRAGMA journal_mode = WAL;
PRAGMA cache_size = -20000;
CREATE TABLE kv (
  id INTEGER PRIMARY KEY,
  grp INTEGER NOT NULL,
  name TEXT NOT NULL,
  body TEXT NOT NULL,
  score REAL
);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @ROWS@)
INSERT INTO kv (id, grp, name, body, score)
SELECT i,
       (i * 7919) % 97,
       printf('name-%06d-%s', (i * 2654435761) % 1000003, substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 26, 1 + (i * 13) % 26)),
       -- text of varied length: 0 .. ~2000 characters, a few much longer
       CASE WHEN i % 1000 = 0 THEN printf('%.*c', 20000 + i % 7, 'Z')
            ELSE substr(replace(hex(zeroblob(1 + (i * 31337) % 1000)), '00', char(65 + i % 26, 97 + (i / 26) % 26)), 1, (i * 31337) % 2000)
       END,
       ((i * 48271) % 2147483647) / 2147483647.0
FROM n;
COMMIT;
SELECT 'rows', count(*), sum(length(body)), max(length(body)), min(length(body)) FROM kv;
CREATE INDEX kv_grp ON kv(grp, score);
CREATE INDEX kv_name ON kv(name);
CREATE TABLE grp_names AS SELECT DISTINCT grp, 'group ' || grp AS label FROM kv;
CREATE UNIQUE INDEX gn ON grp_names(grp);
SELECT 'group', grp, count(*), round(avg(score), 6), sum(length(body)) FROM kv GROUP BY grp ORDER BY grp LIMIT 10;
SELECT 'top', id, name, length(body), round(score, 9) FROM kv WHERE grp = 42 ORDER BY score DESC, id LIMIT 5;
SELECT 'like', count(*) FROM kv WHERE name LIKE 'name-00%';
SELECT 'join', g.label, count(*), max(k.id) FROM kv k JOIN grp_names g ON g.grp = k.grp
  WHERE k.score > 0.5 GROUP BY g.label ORDER BY count(*) DESC, g.label LIMIT 5;
SELECT 'window', id, grp, rnk FROM (
  SELECT id, grp, rank() OVER (PARTITION BY grp ORDER BY length(body) DESC, id) AS rnk FROM kv
) WHERE rnk <= 2 ORDER BY grp, rnk LIMIT 8;
SELECT 'distinct', count(DISTINCT substr(body, 1, 4)), count(DISTINCT grp) FROM kv;
SELECT 'agg', group_concat(id, ',') FROM (SELECT id FROM kv WHERE grp = 3 ORDER BY name LIMIT 20);
BEGIN;
UPDATE kv SET body = body || body, score = score / 2 WHERE id % 10 = 3;
DELETE FROM kv WHERE id % 4 = 1;
INSERT INTO kv (grp, name, body, score) SELECT grp, name || '-copy', upper(body), score FROM kv WHERE id % 50 = 0;
COMMIT;
SELECT 'after', count(*), sum(length(body)), round(sum(score), 3) FROM kv;
PRAGMA wal_checkpoint(TRUNCATE);
VACUUM;
PRAGMA integrity_check;
SELECT 'final', count(*), total(length(name)), max(id) FROM kv;
SELECT 'hash', sum(unicode(substr(body, 1 + id % 50, 1)) * (id % 1000)) FROM kv;
