-- A person's earlier employers, one per line, most recent first: matching finds a job change
-- through them when the CRM still has the old company.
ALTER TABLE people ADD COLUMN past_companies TEXT;
