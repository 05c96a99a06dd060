CREATE TABLE `write_guards` (
	`reason` text NOT NULL,
	CONSTRAINT "stale_write" CHECK(0)
);
--> statement-breakpoint
CREATE INDEX `work_items_open_idx` ON `work_items` (`host_id`,`seq`) WHERE "work_items"."state" IN ('queued', 'leased', 'accepted', 'running');