-- Every change to the local relationship tuples is also queued for an external Permify, in the
-- same transaction as the change, while the installation syncs to one (settings key
-- `authz_sync` = "permify", set by the entry point when AUTHZ is permify-rest or permify-grpc).
CREATE TRIGGER `authz_tuples_outbox_insert` AFTER INSERT ON `authz_tuples`
WHEN EXISTS (SELECT 1 FROM `settings` WHERE `key` = 'authz_sync' AND `value` = '"permify"')
BEGIN
  INSERT INTO `authz_outbox` (`op`, `payload`, `attempts`, `next_attempt_at`, `created_at`)
  VALUES ('write', json_object(
    'entity', json_object('type', NEW.`entity_type`, 'id', NEW.`entity_id`),
    'relation', NEW.`relation`,
    'subject', CASE WHEN NEW.`subject_relation` = ''
      THEN json_object('type', NEW.`subject_type`, 'id', NEW.`subject_id`)
      ELSE json_object('type', NEW.`subject_type`, 'id', NEW.`subject_id`, 'relation', NEW.`subject_relation`)
    END
  ), 0, NEW.`created_at`, NEW.`created_at`);
END;
--> statement-breakpoint
CREATE TRIGGER `authz_tuples_outbox_delete` AFTER DELETE ON `authz_tuples`
WHEN EXISTS (SELECT 1 FROM `settings` WHERE `key` = 'authz_sync' AND `value` = '"permify"')
BEGIN
  INSERT INTO `authz_outbox` (`op`, `payload`, `attempts`, `next_attempt_at`, `created_at`)
  VALUES ('delete', json_object(
    'entity', json_object('type', OLD.`entity_type`, 'id', OLD.`entity_id`),
    'relation', OLD.`relation`,
    'subject', CASE WHEN OLD.`subject_relation` = ''
      THEN json_object('type', OLD.`subject_type`, 'id', OLD.`subject_id`)
      ELSE json_object('type', OLD.`subject_type`, 'id', OLD.`subject_id`, 'relation', OLD.`subject_relation`)
    END
  ), 0, 0, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `authz_attributes_outbox_insert` AFTER INSERT ON `authz_attributes`
WHEN EXISTS (SELECT 1 FROM `settings` WHERE `key` = 'authz_sync' AND `value` = '"permify"')
BEGIN
  INSERT INTO `authz_outbox` (`op`, `payload`, `attempts`, `next_attempt_at`, `created_at`)
  VALUES ('attribute', json_object(
    'entity', json_object('type', NEW.`entity_type`, 'id', NEW.`entity_id`),
    'attribute', NEW.`attribute`,
    'value', json(NEW.`value`)
  ), 0, NEW.`updated_at`, NEW.`updated_at`);
END;
--> statement-breakpoint
CREATE TRIGGER `authz_attributes_outbox_update` AFTER UPDATE ON `authz_attributes`
WHEN EXISTS (SELECT 1 FROM `settings` WHERE `key` = 'authz_sync' AND `value` = '"permify"')
BEGIN
  INSERT INTO `authz_outbox` (`op`, `payload`, `attempts`, `next_attempt_at`, `created_at`)
  VALUES ('attribute', json_object(
    'entity', json_object('type', NEW.`entity_type`, 'id', NEW.`entity_id`),
    'attribute', NEW.`attribute`,
    'value', json(NEW.`value`)
  ), 0, NEW.`updated_at`, NEW.`updated_at`);
END;
