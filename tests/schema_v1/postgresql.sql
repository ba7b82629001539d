-- Schema version 1 on PostgreSQL, frozen: the schema as version 1 of the service created it
-- (before project.dataset_count and its triggers). Used by tests/test_migrations.py to
-- build an old database with rows and migrate it forward. Never edit.
CREATE TABLE IF NOT EXISTS "namespace" ("id" TEXT NOT NULL PRIMARY KEY, "created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, "deleted_at" TIMESTAMP, "slug" TEXT NOT NULL, "name" TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS "namespace_slug" ON "namespace" ("slug") WHERE ("deleted_at" IS NULL);
CREATE INDEX IF NOT EXISTS "namespace_created_at_id" ON "namespace" ("created_at", "id") WHERE ("deleted_at" IS NULL);
CREATE TABLE IF NOT EXISTS "project" ("id" TEXT NOT NULL PRIMARY KEY, "created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, "deleted_at" TIMESTAMP, "namespace_id" TEXT NOT NULL, "slug" TEXT NOT NULL, "name" TEXT NOT NULL, "description" TEXT, FOREIGN KEY ("namespace_id") REFERENCES "namespace" ("id"));
CREATE UNIQUE INDEX IF NOT EXISTS "project_namespace_id_slug" ON "project" ("namespace_id", "slug") WHERE ("deleted_at" IS NULL);
CREATE INDEX IF NOT EXISTS "project_namespace_id_created_at_id" ON "project" ("namespace_id", "created_at", "id") WHERE ("deleted_at" IS NULL);
CREATE TABLE IF NOT EXISTS "dataset" ("id" TEXT NOT NULL PRIMARY KEY, "created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, "deleted_at" TIMESTAMP, "namespace_id" TEXT NOT NULL, "project_id" TEXT NOT NULL, "name" TEXT NOT NULL, "description" TEXT, "tags" jsonb NOT NULL, "metadata" TEXT, FOREIGN KEY ("namespace_id") REFERENCES "namespace" ("id"), FOREIGN KEY ("project_id") REFERENCES "project" ("id"));
CREATE UNIQUE INDEX IF NOT EXISTS "dataset_namespace_id_project_id_name" ON "dataset" ("namespace_id", "project_id", "name") WHERE ("deleted_at" IS NULL);
CREATE INDEX IF NOT EXISTS "dataset_namespace_id_project_id_created_at_id" ON "dataset" ("namespace_id", "project_id", "created_at", "id") WHERE ("deleted_at" IS NULL);
CREATE TABLE IF NOT EXISTS "collection" ("id" TEXT NOT NULL PRIMARY KEY, "created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, "deleted_at" TIMESTAMP, "namespace_id" TEXT NOT NULL, "project_id" TEXT NOT NULL, "dataset_id" TEXT, "member_count" INTEGER NOT NULL, "member_seq" BIGINT NOT NULL, "name" TEXT NOT NULL, FOREIGN KEY ("namespace_id") REFERENCES "namespace" ("id"), FOREIGN KEY ("project_id") REFERENCES "project" ("id"), FOREIGN KEY ("dataset_id") REFERENCES "dataset" ("id"));
CREATE UNIQUE INDEX IF NOT EXISTS "collection_namespace_id_project_id_name" ON "collection" ("namespace_id", "project_id", "name") WHERE ("deleted_at" IS NULL);
CREATE INDEX IF NOT EXISTS "collection_namespace_id_project_id_created_at_id" ON "collection" ("namespace_id", "project_id", "created_at", "id") WHERE ("deleted_at" IS NULL);
CREATE INDEX IF NOT EXISTS "collection_namespace_id_dataset_id_created_at_id" ON "collection" ("namespace_id", "dataset_id", "created_at", "id") WHERE ("deleted_at" IS NULL);
CREATE TABLE IF NOT EXISTS "member" ("namespace_id" TEXT NOT NULL, "collection_id" TEXT NOT NULL, "node_id" TEXT NOT NULL, "position" BIGINT NOT NULL, PRIMARY KEY ("collection_id", "node_id"), FOREIGN KEY ("namespace_id") REFERENCES "namespace" ("id"), FOREIGN KEY ("collection_id") REFERENCES "collection" ("id"));
CREATE INDEX IF NOT EXISTS "member_collection_id_position" ON "member" ("collection_id", "position");
CREATE TABLE IF NOT EXISTS "schema_version" ("version" INTEGER NOT NULL);
CREATE INDEX dataset_tags_gin ON dataset USING gin (tags) WHERE deleted_at IS NULL;
INSERT INTO schema_version (version) VALUES (1);
