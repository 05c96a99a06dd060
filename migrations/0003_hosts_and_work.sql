CREATE TABLE `agent_access_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`host_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `agent_access_tokens_host_idx` ON `agent_access_tokens` (`host_id`);--> statement-breakpoint
CREATE INDEX `agent_access_tokens_exp_idx` ON `agent_access_tokens` (`expires_at`);--> statement-breakpoint
CREATE TABLE `agent_assertion_jtis` (
	`host_id` text NOT NULL,
	`jti` text NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`host_id`, `jti`),
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `agent_jti_exp_idx` ON `agent_assertion_jtis` (`expires_at`);--> statement-breakpoint
CREATE TABLE `enrollment_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`token_hash` text NOT NULL,
	`prefix` text NOT NULL,
	`description` text NOT NULL,
	`scope` text NOT NULL,
	`max_uses` integer NOT NULL,
	`uses` integer DEFAULT 0 NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `enrollment_tokens_token_hash_unique` ON `enrollment_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `enrollment_tokens_org_idx` ON `enrollment_tokens` (`org_id`);--> statement-breakpoint
CREATE TABLE `hosts` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`machine_id` text NOT NULL,
	`scope` text NOT NULL,
	`state` text NOT NULL,
	`public_jwk` text NOT NULL,
	`key_thumbprint` text NOT NULL,
	`facts` text NOT NULL,
	`enrollment_token_id` text NOT NULL,
	`replaces_host_id` text,
	`maintenance` integer DEFAULT false NOT NULL,
	`reported_health` text DEFAULT 'discovering' NOT NULL,
	`status` text,
	`clock_offset_ms` integer,
	`last_seen_at` integer,
	`last_status_at` integer,
	`decided_by` text,
	`decided_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `hosts_key_thumbprint_unique` ON `hosts` (`key_thumbprint`);--> statement-breakpoint
CREATE INDEX `hosts_org_idx` ON `hosts` (`org_id`);--> statement-breakpoint
CREATE INDEX `hosts_org_machine_idx` ON `hosts` (`org_id`,`machine_id`);--> statement-breakpoint
CREATE TABLE `agent_idempotency_keys` (
	`host_id` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`response_status` integer,
	`response_body` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`host_id`, `key`),
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `agent_idem_exp_idx` ON `agent_idempotency_keys` (`expires_at`);--> statement-breakpoint
CREATE TABLE `work_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`item_id` text NOT NULL,
	`host_id` text NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`lease_epoch` integer,
	`detail` text NOT NULL,
	FOREIGN KEY (`item_id`) REFERENCES `work_items`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `work_events_item_idx` ON `work_events` (`item_id`,`id`);--> statement-breakpoint
CREATE TABLE `work_items` (
	`id` text PRIMARY KEY NOT NULL,
	`host_id` text NOT NULL,
	`seq` integer NOT NULL,
	`tenant` text,
	`op` text NOT NULL,
	`op_v` integer NOT NULL,
	`resource_kind` text NOT NULL,
	`resource_id` text NOT NULL,
	`resource_uid` text NOT NULL,
	`gen` integer NOT NULL,
	`after` text NOT NULL,
	`idem` text NOT NULL,
	`params` text NOT NULL,
	`state` text NOT NULL,
	`attempt` integer DEFAULT 0 NOT NULL,
	`lease_epoch` integer DEFAULT 0 NOT NULL,
	`lease_holder` text,
	`lease_expires_at` integer,
	`last_jti` text,
	`start_by` integer NOT NULL,
	`timeout_s` integer NOT NULL,
	`cancel_requested_at` integer,
	`reject_reason` text,
	`outcome` text,
	`result` text,
	`late` integer DEFAULT false NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `work_items_host_seq_unique` ON `work_items` (`host_id`,`seq`);--> statement-breakpoint
CREATE INDEX `work_items_host_state_idx` ON `work_items` (`host_id`,`state`,`seq`);--> statement-breakpoint
CREATE INDEX `work_items_idem_idx` ON `work_items` (`host_id`,`idem`);