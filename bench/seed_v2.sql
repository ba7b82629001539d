-- The data of the v2 scenarios (bench/floor_v2.py), in namespace `bench`, after seed.sql and on
-- every --reuse-db reset: every row of its own projects is deleted first (member rows, version
-- rows, collections, datasets, the projects), then written anew, so running it again gives the
-- same state. Parameter (psycopg2 style): %(trash_pool)s, the items of each pool of the trash
-- that the writes T2, T3 and T4 consume, one a request, named by their number n = 1, 2, …
--
-- `trashed` (T1): a realistic trash, 1,000 deleted datasets and 1,000 deleted collections,
--   deleted one after the other, a dataset then a collection; half the collections were in the
--   live dataset `frames` when deleted (their trash item names it), half standalone; 10 members
--   each. 100 live datasets beside them.
-- `restore` (T2, T3): deleted datasets `trd-<n>` (name `restorable-<n>`), each with one live
--   standalone collection that its deletion detached (`detached-<n>`, which T2's reattachment
--   takes back); deleted collections `trc-<n>` (name `restorable-<n>`, no members), each deleted
--   out of the live dataset `home`, to which T3 restores it.
-- `purge` (T4): deleted datasets `tpd-<n>` (no versions); deleted standalone collections `tpc-<n>`,
--   5 members each, which the purge deletes.
-- `nodes` (R1): the node `scene-0001/frame-000500` is one of the 1,000 nodes (`scene-0001/frame-
--   000001` …) that five live collections hold: four of dataset `annotated`, and the standalone
--   `picked`; a sixth collection holding them is in the trash (R1 leaves it out).
-- `made` (C1): empty; the collections C1 makes (`made-<n>`) are deleted by the next reset.
--
-- Who and when: created_by / updated_by `seeder`, deleted_by `alice` or `bob`; every deleted row
-- has deleted_at and deleted_by; a deleted collection has no dataset_id and remembers the dataset
-- it was in (former_dataset_id, former_dataset_name), or none if it was standalone. No member row
-- was removed (added_seq 0, removed_seq null), no collection changed (change_seq 0).
SET session_replication_role = replica;

DELETE FROM member
 WHERE collection_id IN (SELECT id FROM collection WHERE project_id IN ('p-trash', 'p-restore', 'p-purge', 'p-nodes', 'p-made'));
DELETE FROM version_collection
 WHERE version_id IN (SELECT v.id FROM version v JOIN dataset d ON d.id = v.dataset_id
                       WHERE d.project_id IN ('p-trash', 'p-restore', 'p-purge', 'p-nodes', 'p-made'));
DELETE FROM version
 WHERE dataset_id IN (SELECT id FROM dataset WHERE project_id IN ('p-trash', 'p-restore', 'p-purge', 'p-nodes', 'p-made'));
DELETE FROM collection WHERE project_id IN ('p-trash', 'p-restore', 'p-purge', 'p-nodes', 'p-made');
DELETE FROM dataset WHERE project_id IN ('p-trash', 'p-restore', 'p-purge', 'p-nodes', 'p-made');
DELETE FROM project WHERE id IN ('p-trash', 'p-restore', 'p-purge', 'p-nodes', 'p-made');

INSERT INTO project (id, created_at, updated_at, namespace_id, slug, name, description, dataset_count)
VALUES ('p-trash', '2026-01-01', '2026-01-01', 'ns-bench', 'trashed', 'Trash', NULL, 0),
       ('p-restore', '2026-01-01', '2026-01-01', 'ns-bench', 'restore', 'Restores', NULL, 0),
       ('p-purge', '2026-01-01', '2026-01-01', 'ns-bench', 'purge', 'Purges', NULL, 0),
       ('p-nodes', '2026-01-01', '2026-01-01', 'ns-bench', 'nodes', 'Reverse lookup', NULL, 0),
       ('p-made', '2026-01-01', '2026-01-01', 'ns-bench', 'made', 'Made collections', NULL, 0);

-- Datasets. Live: `frames` and 100 others in `trashed`, `home` in `restore`, `annotated` in `nodes`.
INSERT INTO dataset (id, created_at, updated_at, namespace_id, project_id, name, description, tags, metadata,
                     version_count, created_by, updated_by)
VALUES ('dt-frames', '2026-01-02', '2026-01-02', 'ns-bench', 'p-trash', 'frames', NULL, '["kind-1"]', NULL, 0,
        'seeder', 'seeder'),
       ('dr-home', '2026-01-02', '2026-01-02', 'ns-bench', 'p-restore', 'home', 'Restored collections land here',
        '[]', NULL, 0, 'seeder', 'seeder'),
       ('dn-annotated', '2026-01-02', '2026-01-02', 'ns-bench', 'p-nodes', 'annotated', NULL, '["kind-2"]',
        '{"source":"bench"}', 0, 'seeder', 'seeder');

INSERT INTO dataset (id, created_at, updated_at, namespace_id, project_id, name, description, tags, metadata,
                     version_count, created_by, updated_by)
SELECT 'dt-live-' || i,
       timestamp '2026-01-03' + i * interval '1 second', timestamp '2026-01-03' + i * interval '1 second',
       'ns-bench', 'p-trash', 'live-' || lpad(i::text, 3, '0'), NULL, '[]', NULL, 0, 'seeder', 'seeder'
FROM generate_series(1, 100) AS i;

-- Deleted datasets: T1's 1,000 (deleted at even seconds, collections at odd ones), then the pools.
INSERT INTO dataset (id, created_at, updated_at, deleted_at, namespace_id, project_id, name, description, tags,
                     metadata, version_count, created_by, updated_by, deleted_by)
SELECT d.prefix || i,
       timestamp '2026-02-01' + i * interval '1 second', timestamp '2026-02-01' + i * interval '1 second',
       timestamp '2026-03-01' + d.step * i * interval '1 millisecond',
       'ns-bench', d.project_id, d.label || i,
       CASE WHEN i %% 2 = 0 THEN 'Frames from drive ' || i END, jsonb_build_array('kind-' || (i %% 10)),
       CASE WHEN i %% 3 = 0 THEN '{"source":"bench","drive":' || i || '}' END,
       0, 'seeder', 'seeder', CASE WHEN i %% 2 = 0 THEN 'alice' ELSE 'bob' END
FROM (VALUES ('t1d-', 'p-trash', 'dropped-', 1000, 2000),
             ('trd-', 'p-restore', 'restorable-', %(trash_pool)s, 1),
             ('tpd-', 'p-purge', 'purgeable-', %(trash_pool)s, 1)) AS d(prefix, project_id, label, n, step),
     generate_series(1, d.n) AS i;

-- Collections. Live: four of `annotated` and the standalone `picked` (R1); one detached from each
-- deleted dataset of the T2 pool (standalone, remembering it).
INSERT INTO collection (id, created_at, updated_at, namespace_id, project_id, dataset_id, member_count, member_seq,
                        name, change_seq, created_by, updated_by)
SELECT 'c-n-' || lpad(k::text, 2, '0'), timestamp '2026-02-01' + k * interval '1 second',
       timestamp '2026-02-01' + k * interval '1 second', 'ns-bench', 'p-nodes',
       CASE WHEN k <= 4 THEN 'dn-annotated' END, 1000, 1000,
       CASE WHEN k <= 4 THEN 'labels-' || lpad(k::text, 2, '0') ELSE 'picked' END, 0, 'seeder', 'seeder'
FROM generate_series(1, 5) AS k;

INSERT INTO collection (id, created_at, updated_at, namespace_id, project_id, dataset_id, member_count, member_seq,
                        name, change_seq, created_by, updated_by, former_dataset_id)
SELECT 'trd-' || i || '-c', timestamp '2026-02-01' + i * interval '1 millisecond',
       timestamp '2026-03-01' + i * interval '1 millisecond', 'ns-bench', 'p-restore', NULL, 0, 0,
       'detached-' || i, 0, 'seeder', 'alice', 'trd-' || i
FROM generate_series(1, %(trash_pool)s) AS i;

-- Deleted collections: T1's 1,000 (odd ones were in `frames`), the trashed one of `nodes`, the pools.
INSERT INTO collection (id, created_at, updated_at, deleted_at, namespace_id, project_id, dataset_id, member_count,
                        member_seq, name, change_seq, created_by, updated_by, deleted_by, former_dataset_id,
                        former_dataset_name)
SELECT c.prefix || i,
       timestamp '2026-02-01' + i * interval '1 second', timestamp '2026-02-01' + i * interval '1 second',
       timestamp '2026-03-01' + (c.step * i + c.shift) * interval '1 millisecond',
       'ns-bench', c.project_id, NULL, c.members, c.members, c.label || i, 0, 'seeder', 'seeder',
       CASE WHEN i %% 2 = 0 THEN 'bob' ELSE 'alice' END,
       CASE WHEN c.former = 'odd' AND i %% 2 = 1 THEN 'dt-frames' WHEN c.former = 'home' THEN 'dr-home' END,
       CASE WHEN c.former = 'odd' AND i %% 2 = 1 THEN 'frames' WHEN c.former = 'home' THEN 'home' END
FROM (VALUES ('t1c-', 'p-trash', 'dropped-', 1000, 2000, 1000, 10, 'odd'),
             ('trc-', 'p-restore', 'restorable-', %(trash_pool)s, 1, 0, 0, 'home'),
             ('tpc-', 'p-purge', 'purgeable-', %(trash_pool)s, 1, 0, 5, 'none'))
       AS c(prefix, project_id, label, n, step, shift, members, former),
     generate_series(1, c.n) AS i;

INSERT INTO collection (id, created_at, updated_at, deleted_at, namespace_id, project_id, dataset_id, member_count,
                        member_seq, name, change_seq, created_by, updated_by, deleted_by, former_dataset_id,
                        former_dataset_name)
VALUES ('c-n-trashed', '2026-02-01', '2026-02-01', '2026-03-01', 'ns-bench', 'p-nodes', NULL, 1000, 1000, 'dropped',
        0, 'seeder', 'seeder', 'alice', 'dn-annotated', 'annotated');

-- Members: the 1,000 nodes of `nodes` in each of its six collections; the deleted collections'.
INSERT INTO member (namespace_id, collection_id, node_id, position, added_seq)
SELECT 'ns-bench', c.id, 'scene-0001/frame-' || lpad(j::text, 6, '0'), j, 0
FROM collection c, generate_series(1, 1000) AS j
WHERE c.project_id = 'p-nodes';

INSERT INTO member (namespace_id, collection_id, node_id, position, added_seq)
SELECT 'ns-bench', c.id, c.id || '/frame-' || lpad(j::text, 6, '0'), j, 0
FROM collection c, generate_series(1, c.member_count) AS j
WHERE c.project_id IN ('p-trash', 'p-purge') AND c.member_count > 0;

SET session_replication_role = DEFAULT;

UPDATE project SET dataset_count = (SELECT count(*) FROM dataset
                                    WHERE dataset.project_id = project.id AND dataset.deleted_at IS NULL)
 WHERE id IN ('p-trash', 'p-restore', 'p-purge', 'p-nodes', 'p-made');
