CREATE TABLE `authz_outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`op` text NOT NULL,
	`payload` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `authz_outbox_next_idx` ON `authz_outbox` (`next_attempt_at`,`id`);--> statement-breakpoint
CREATE TABLE `images` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`project_id` text,
	`name` text NOT NULL,
	`url` text NOT NULL,
	`sha256` text NOT NULL,
	`format` text NOT NULL,
	`min_disk_gb` integer NOT NULL,
	`public` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `images_org_name_unique` ON `images` (`org_id`,`name`);--> statement-breakpoint
CREATE TABLE `operations` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`project_id` text NOT NULL,
	`kind` text NOT NULL,
	`target_type` text NOT NULL,
	`target_id` text NOT NULL,
	`status` text NOT NULL,
	`steps` text NOT NULL,
	`error_code` text,
	`error_hint` text,
	`actor_type` text NOT NULL,
	`actor_id` text NOT NULL,
	`idempotency_key` text,
	`request_hash` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `operations_target_idx` ON `operations` (`target_type`,`target_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `operations_project_idx` ON `operations` (`project_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `operations_idempotency_unique` ON `operations` (`actor_id`,`idempotency_key`);--> statement-breakpoint
CREATE TABLE `project_quotas` (
	`project_id` text PRIMARY KEY NOT NULL,
	`max_vms` integer NOT NULL,
	`max_vcpus` integer NOT NULL,
	`max_memory_mb` integer NOT NULL,
	`max_disk_gb` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `vms` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`project_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`image_id` text NOT NULL,
	`vcpus` integer NOT NULL,
	`memory_mb` integer NOT NULL,
	`disk_gb` integer NOT NULL,
	`ssh_keys` text NOT NULL,
	`user_data` text DEFAULT '' NOT NULL,
	`labels` text NOT NULL,
	`host_id` text,
	`desired_state` text NOT NULL,
	`observed_state` text NOT NULL,
	`state_reason` text DEFAULT '' NOT NULL,
	`generation` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `vms_project_name_unique` ON `vms` (`project_id`,`name`);--> statement-breakpoint
CREATE INDEX `vms_host_idx` ON `vms` (`host_id`);--> statement-breakpoint
CREATE INDEX `vms_project_created_idx` ON `vms` (`project_id`,`created_at`);