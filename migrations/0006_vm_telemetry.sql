CREATE TABLE `vm_telemetry` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`vm_id` text NOT NULL,
	`at` integer NOT NULL,
	`console_tail` text,
	`counters` text,
	FOREIGN KEY (`vm_id`) REFERENCES `vms`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `vm_telemetry_vm_at_idx` ON `vm_telemetry` (`vm_id`,`at`);