-- The maintenance role keeps only what maintenance does (issue [2.3], finding 7). It
-- finds stale runs, pending uploads and tenants, and deletes old validation errors;
-- everything it does to a tenant's run (resume, abandon) and every audit row it causes
-- go through that tenant's own transaction as the application role (marking runs was
-- taken away in V2). So it loses writing audit rows for any tenant, and deleting a
-- validation error a tenant may still be reading (one less than a day old).
revoke insert on audit_log from cogs_maintenance;
drop policy audit_log_maintenance_write on audit_log;
drop policy validation_errors_maintenance_delete on validation_errors;
create policy validation_errors_maintenance_delete on validation_errors for delete to cogs_maintenance
    using (created_at < now() - interval '1 day');
