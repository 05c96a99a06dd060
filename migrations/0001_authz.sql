CREATE TABLE `authz_attributes` (
	`entity_type` text NOT NULL,
	`attribute` text NOT NULL,
	`entity_id` text NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`entity_type`, `attribute`, `entity_id`)
);
--> statement-breakpoint
CREATE TABLE `authz_tuples` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`entity_type` text NOT NULL,
	`entity_id` text NOT NULL,
	`relation` text NOT NULL,
	`subject_type` text NOT NULL,
	`subject_id` text NOT NULL,
	`subject_relation` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `authz_tuples_reverse_idx` ON `authz_tuples` (`entity_type`,`relation`,`subject_type`,`subject_id`,`subject_relation`,`entity_id`);--> statement-breakpoint
CREATE INDEX `authz_tuples_subject_idx` ON `authz_tuples` (`subject_type`,`subject_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `authz_tuples_tuple_unique` ON `authz_tuples` (`entity_type`,`entity_id`,`relation`,`subject_type`,`subject_id`,`subject_relation`);