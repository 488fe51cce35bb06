//! The workspace's domain: tenants, seats, people, companies, saved leads and accounts, activities,
//! CRM settings, and the import and writeback rules. No IO, no async.
