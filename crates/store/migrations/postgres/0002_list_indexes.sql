-- A rep's saved leads and accounts are listed a page at a time, most recently saved first (ties by
-- id): these indexes hand out each page in order instead of sorting the rep's whole list.
CREATE INDEX saved_leads_recent ON saved_leads (tenant_id, seat_id, saved_at DESC, person_id);
CREATE INDEX saved_accounts_recent ON saved_accounts (tenant_id, seat_id, saved_at DESC, company_id);
