ALTER TABLE `hosts` ADD `liveness` text DEFAULT 'online' NOT NULL;--> statement-breakpoint
ALTER TABLE `hosts` ADD `liveness_changed_at` integer;