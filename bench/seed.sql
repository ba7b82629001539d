-- The benchmark's data, on a freshly migrated database. Parameters (psycopg2 style):
-- %(small)s and %(large)s datasets in projects `small` and `large`; %(collections)s
-- collections of %(big_members)s members in dataset-0000002 of `small` (the large D3), and
-- of %(small_members)s members in dataset-0000001 of both projects (the small D3).
-- Project `writes` takes D1's creates and C5's additions (collection `inbox`). Project
-- `versions` holds dataset `versioned`: %(collections)s collections of %(versioned_members)s
-- members (the versions scenarios: V1, V3, V4, and D3 of the same content); bench.py freezes
-- its versions through the API. Project `big` holds three standalone collections: `million`,
-- %(million_members)s members (M1 at depth), and `half-a` and `half-b`, %(half_members)s each, the
-- second half of `half-a` being the first half of `half-b` (C1 `from`: union, intersection and
-- difference); the collections C1 makes there are bench.py's to delete.
--
-- Around them, for the lists and the writes that consume a row each: 49 namespaces more
-- (`team-01` … `team-49`: N2's first page holds 50), and projects `archive-01` … in `bench`
-- up to 50 in all (P2's first page). Dataset `edited` of `writes` (20 empty collections) takes
-- D4's changes. Project `pools` holds what the writes that consume a row per request take,
-- %(pool)s of each (bench.py numbers a run's requests 1, 2, … and takes the pools back on
-- --reuse-db): datasets `doomed-1` … (D5), each with one collection `part-N` (which its
-- deletion makes standalone); collections `doomed-1` … of dataset `holder` (C6); standalone
-- collections `rename-1` … (C4 renames `rename-N` to `renamed-N`).
--
-- Schema version 4: every member row is one added at change 0 (added_seq 0) and not removed
-- (removed_seq null); no collection has changed yet (change_seq 0), no dataset has a version
-- (version_count 0).
--
-- Rows are written set-wise with generate_series. Triggers (the kept dataset count) and
-- foreign-key checks are off for this session only; the kept counts are set below from
-- the rows themselves, and every reference points at a row inserted here.
SET session_replication_role = replica;

INSERT INTO namespace (id, created_at, updated_at, slug, name)
VALUES ('ns-bench', '2026-01-01', '2026-01-01', 'bench', 'Benchmark');

INSERT INTO project (id, created_at, updated_at, namespace_id, slug, name, description, dataset_count)
VALUES ('p-small', '2026-01-01', '2026-01-01', 'ns-bench', 'small', 'Small', NULL, 0),
       ('p-large', '2026-01-01', '2026-01-01', 'ns-bench', 'large', 'Large', 'A million datasets', 0),
       ('p-writes', '2026-01-01', '2026-01-01', 'ns-bench', 'writes', 'Writes', NULL, 0),
       ('p-versions', '2026-01-01', '2026-01-01', 'ns-bench', 'versions', 'Versions', NULL, 0),
       ('p-big', '2026-01-01', '2026-01-01', 'ns-bench', 'big', 'Big collections', NULL, 0);

-- Tags: two common ones (1 in 10 and 1 in 100) and `rare` on 1 dataset in 1,000.
INSERT INTO dataset (id, created_at, updated_at, namespace_id, project_id, name, description, tags, metadata,
                     version_count)
SELECT p.prefix || lpad(i::text, 7, '0'),
       timestamp '2026-01-01' + i * interval '1 millisecond',
       timestamp '2026-01-01' + i * interval '1 millisecond',
       'ns-bench', p.id,
       'dataset-' || lpad(i::text, 7, '0'),
       CASE WHEN i %% 2 = 0 THEN 'Frames from drive ' || i || ', front camera' END,
       jsonb_build_array('kind-' || (i %% 10), 'site-' || (i %% 100))
         || CASE WHEN i %% 1000 = 0 THEN '["rare"]'::jsonb ELSE '[]'::jsonb END,
       CASE WHEN i %% 3 = 0 THEN '{"source":"bench","drive":' || i || '}' END,
       0
FROM (VALUES ('p-small', 'ds-', %(small)s), ('p-large', 'dl-', %(large)s)) AS p(id, prefix, n),
     generate_series(1, p.n) AS i;

INSERT INTO dataset (id, created_at, updated_at, namespace_id, project_id, name, description, tags, metadata,
                     version_count)
VALUES ('dv-versioned', '2026-01-01', '2026-01-01', 'ns-bench', 'p-versions', 'versioned',
        'Training frames, frozen as versions', '["kind-1","site-1"]', '{"source":"bench"}', 0);

-- c-big-NN: the large D3 (dataset-0000002 of `small`); c-s-NN and c-l-NN: the small D3
-- (dataset-0000001 of `small` and of `large`); c-v-NN: dataset `versioned` of `versions`.
INSERT INTO collection (id, created_at, updated_at, namespace_id, project_id, dataset_id,
                        member_count, member_seq, name, change_seq)
SELECT c.prefix || lpad(k::text, 2, '0'),
       timestamp '2026-02-01' + k * interval '1 second', timestamp '2026-02-01' + k * interval '1 second',
       'ns-bench', c.project_id, c.dataset_id, c.n, c.n, c.label || '-' || lpad(k::text, 2, '0'), 0
FROM (VALUES ('c-big-', 'p-small', 'ds-0000002', 'shard', %(big_members)s),
             ('c-s-', 'p-small', 'ds-0000001', 'split', %(small_members)s),
             ('c-l-', 'p-large', 'dl-0000001', 'split', %(small_members)s),
             ('c-v-', 'p-versions', 'dv-versioned', 'part', %(versioned_members)s))
       AS c(prefix, project_id, dataset_id, label, n),
     generate_series(1, %(collections)s) AS k;

INSERT INTO collection (id, created_at, updated_at, namespace_id, project_id, dataset_id,
                        member_count, member_seq, name, change_seq)
VALUES ('c-inbox', '2026-02-01', '2026-02-01', 'ns-bench', 'p-writes', NULL, 0, 0, 'inbox', 0),
       ('c-million', '2026-02-01', '2026-02-01', 'ns-bench', 'p-big', NULL, %(million_members)s,
        %(million_members)s, 'million', 0),
       ('c-half-a', '2026-02-01 00:00:01', '2026-02-01 00:00:01', 'ns-bench', 'p-big', NULL, %(half_members)s,
        %(half_members)s, 'half-a', 0),
       ('c-half-b', '2026-02-01 00:00:02', '2026-02-01 00:00:02', 'ns-bench', 'p-big', NULL, %(half_members)s,
        %(half_members)s, 'half-b', 0);

-- The other namespaces (N2), and the projects of `bench` beyond the five above and `pools` (P2).
INSERT INTO namespace (id, created_at, updated_at, slug, name)
SELECT 'ns-team-' || lpad(i::text, 2, '0'), timestamp '2026-01-01' + i * interval '1 minute',
       timestamp '2026-01-01' + i * interval '1 minute', 'team-' || lpad(i::text, 2, '0'), 'Team ' || i
FROM generate_series(1, 49) AS i;

INSERT INTO project (id, created_at, updated_at, namespace_id, slug, name, description, dataset_count)
VALUES ('p-pools', '2026-01-01', '2026-01-01', 'ns-bench', 'pools', 'Pools', 'What the writes consume', 0);

INSERT INTO project (id, created_at, updated_at, namespace_id, slug, name, description, dataset_count)
SELECT 'p-archive-' || lpad(i::text, 2, '0'), timestamp '2026-01-02' + i * interval '1 minute',
       timestamp '2026-01-02' + i * interval '1 minute', 'ns-bench', 'archive-' || lpad(i::text, 2, '0'),
       'Archive ' || i, CASE WHEN i %% 2 = 0 THEN 'Drives of quarter ' || i END, 0
FROM generate_series(1, 50 - 6) AS i;

-- D4: dataset `edited` of `writes`, with 20 collections (no members), as the small D3's.
INSERT INTO dataset (id, created_at, updated_at, namespace_id, project_id, name, description, tags, metadata,
                     version_count)
VALUES ('dw-edited', '2026-01-01', '2026-01-01', 'ns-bench', 'p-writes', 'edited', 'Edited by the benchmark',
        '["kind-1","site-1"]', '{"source":"bench"}', 0);

INSERT INTO collection (id, created_at, updated_at, namespace_id, project_id, dataset_id,
                        member_count, member_seq, name, change_seq)
SELECT 'c-w-' || lpad(k::text, 2, '0'), timestamp '2026-02-01' + k * interval '1 second',
       timestamp '2026-02-01' + k * interval '1 second', 'ns-bench', 'p-writes', 'dw-edited', 0, 0,
       'edited-' || lpad(k::text, 2, '0'), 0
FROM generate_series(1, 20) AS k;

-- `pools`: datasets doomed-N (D5) and holder; collections part-N of doomed-N, doomed-N of holder
-- (C6), rename-N standalone (C4). Their ids end in N (bench.py's reset reads the names from them).
INSERT INTO dataset (id, created_at, updated_at, namespace_id, project_id, name, description, tags, metadata,
                     version_count)
SELECT 'dp-' || i, timestamp '2026-03-01' + i * interval '1 millisecond',
       timestamp '2026-03-01' + i * interval '1 millisecond', 'ns-bench', 'p-pools', 'doomed-' || i,
       'Deleted by the benchmark', '["kind-1"]', NULL, 0
FROM generate_series(1, %(pool)s) AS i;

INSERT INTO dataset (id, created_at, updated_at, namespace_id, project_id, name, description, tags, metadata,
                     version_count)
VALUES ('dp-holder', '2026-03-01', '2026-03-01', 'ns-bench', 'p-pools', 'holder', NULL, '[]', NULL, 0);

INSERT INTO collection (id, created_at, updated_at, namespace_id, project_id, dataset_id,
                        member_count, member_seq, name, change_seq)
SELECT c.prefix || i, timestamp '2026-03-01' + i * interval '1 millisecond',
       timestamp '2026-03-01' + i * interval '1 millisecond', 'ns-bench', 'p-pools',
       CASE c.dataset WHEN 'own' THEN 'dp-' || i ELSE c.dataset END, 0, 0, c.label || i, 0
FROM (VALUES ('c-dp-', 'own', 'part-'), ('c-dc-', 'dp-holder', 'doomed-'), ('c-rn-', NULL, 'rename-'))
       AS c(prefix, dataset, label),
     generate_series(1, %(pool)s) AS i;

INSERT INTO member (namespace_id, collection_id, node_id, position, added_seq)
SELECT 'ns-bench', c.id, 'clip-' || c.id || '/frame-' || lpad(j::text, 6, '0'), j, 0
FROM collection c, generate_series(1, c.member_count) AS j
WHERE c.member_count > 0 AND c.project_id <> 'p-big';

-- `big`: frame-0000001 … of `million`; node-0000001 … of `half-a`, and from the middle of
-- `half-a` on for `half-b`, each at positions 1, 2, …
INSERT INTO member (namespace_id, collection_id, node_id, position, added_seq)
SELECT 'ns-bench', 'c-million', 'clip-c-million/frame-' || lpad(j::text, 7, '0'), j, 0
FROM generate_series(1, %(million_members)s) AS j;

INSERT INTO member (namespace_id, collection_id, node_id, position, added_seq)
SELECT 'ns-bench', h.id, 'node-' || lpad((h.first + j - 1)::text, 7, '0'), j, 0
FROM (VALUES ('c-half-a', 1), ('c-half-b', %(half_members)s / 2 + 1)) AS h(id, first),
     generate_series(1, %(half_members)s) AS j;

SET session_replication_role = DEFAULT;

UPDATE project SET dataset_count = (SELECT count(*) FROM dataset
                                    WHERE dataset.project_id = project.id AND dataset.deleted_at IS NULL);
