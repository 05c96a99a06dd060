ALTER TABLE `hosts` ADD `previous_public_jwk` text;--> statement-breakpoint
ALTER TABLE `hosts` ADD `previous_key_thumbprint` text;--> statement-breakpoint
ALTER TABLE `hosts` ADD `previous_key_not_after` integer;--> statement-breakpoint
ALTER TABLE `hosts` ADD `liveness` text DEFAULT 'online' NOT NULL;--> statement-breakpoint
ALTER TABLE `hosts` ADD `liveness_changed_at` integer;