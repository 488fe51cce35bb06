-- Each sync matches only the people and companies added or changed since the last one: these
-- indexes find them without reading the tenant's whole directory.
CREATE INDEX people_updated ON people (tenant_id, updated_at);
CREATE INDEX companies_updated ON companies (tenant_id, updated_at);
