ALTER TABLE `api_tokens` ADD `parent_token_id` text;--> statement-breakpoint
CREATE INDEX `api_tokens_parent_idx` ON `api_tokens` (`parent_token_id`);