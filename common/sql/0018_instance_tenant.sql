-- huikuan schema, migration 18: the tenant an instance works for, in the directory.
--
-- Instances of several tenants share the servers (consumer groups and work queues are per
-- tenant). Scheduler instances of one tenant share the due contacts between them by the
-- directory's list of live instances of their kind and tenant (services/scheduling).
-- NULL for rows written before this migration: they are rewritten at the next start.
ALTER TABLE fleet_instance ADD COLUMN tenant text;
