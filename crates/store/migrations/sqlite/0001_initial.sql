-- leadbridge schema, version 1. migrations/postgres/ and migrations/sqlite/ hold the same statements;
-- the SQLite file only spells the column types SQLite's way (a unit test keeps the two in step).
-- Ids are UUID text and times Unix milliseconds, so one set of queries serves both databases.
-- Every table but `tenants` and the pre-sign-in throttle has `tenant_id`, and rows that point at
-- each other carry the tenant in the foreign key, so a row can never refer to another tenant's row.

CREATE TABLE tenants (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    seat_count INTEGER NOT NULL CHECK (seat_count >= 0),
    created_at INTEGER NOT NULL
);

-- Sign-in is by email alone, so an email belongs to one user across all tenants.
CREATE TABLE users (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    is_admin INTEGER NOT NULL,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_email ON users (email);

CREATE TABLE seats (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    holder_id TEXT NOT NULL,
    crm_sync TEXT NOT NULL,
    -- The CRM user the last sync mapped the seat to ("In CRM"); purge clears it.
    crm_user_id TEXT,
    copy_to_crm_default INTEGER NOT NULL DEFAULT TRUE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, holder_id),
    FOREIGN KEY (tenant_id, holder_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE sessions (
    token_hash TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

CREATE TABLE api_tokens (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    last_used_at INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Failed sign-ins per email and per client address. Kept before anyone is signed in, so it has
-- no tenant; it holds no tenant data either (the email key is a hash).
CREATE TABLE login_throttle (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    failures INTEGER NOT NULL,
    window_started_at INTEGER NOT NULL,
    locked_until INTEGER,
    PRIMARY KEY (scope, key)
);

CREATE TABLE companies (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    external_id TEXT,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    website TEXT,
    domain TEXT,
    industry TEXT,
    location TEXT,
    size TEXT,
    -- Set when the import created the company from a CRM account no workspace company matched.
    crm_connection_id TEXT,
    crm_account_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX companies_external_id ON companies (tenant_id, external_id);
CREATE INDEX companies_name ON companies (tenant_id, name_key);

CREATE TABLE people (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    external_id TEXT,
    full_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    title TEXT,
    company_name TEXT,
    company_id TEXT,
    location TEXT,
    email TEXT,
    phone TEXT,
    profile_url TEXT,
    crm_connection_id TEXT,
    crm_contact_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id)
);
CREATE UNIQUE INDEX people_external_id ON people (tenant_id, external_id);
CREATE INDEX people_name ON people (tenant_id, name_key);
CREATE INDEX people_company ON people (tenant_id, company_id);

CREATE TABLE tags (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

-- A rep's saved leads (people) and saved accounts (companies), the CRM reasons that brought them
-- and their tags. `by_hand` items are never unsaved by the import.
CREATE TABLE saved_leads (
    tenant_id TEXT NOT NULL,
    seat_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    by_hand INTEGER NOT NULL,
    saved_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, seat_id, person_id),
    FOREIGN KEY (tenant_id, seat_id) REFERENCES seats (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, person_id) REFERENCES people (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX saved_leads_person ON saved_leads (tenant_id, person_id);

CREATE TABLE saved_lead_reasons (
    tenant_id TEXT NOT NULL,
    seat_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    stage INTEGER,
    PRIMARY KEY (tenant_id, seat_id, person_id, opportunity_id),
    FOREIGN KEY (tenant_id, seat_id, person_id)
        REFERENCES saved_leads (tenant_id, seat_id, person_id) ON DELETE CASCADE
);

CREATE TABLE saved_lead_tags (
    tenant_id TEXT NOT NULL,
    seat_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    tag_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seat_id, person_id, tag_id),
    FOREIGN KEY (tenant_id, seat_id, person_id)
        REFERENCES saved_leads (tenant_id, seat_id, person_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, tag_id) REFERENCES tags (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE saved_accounts (
    tenant_id TEXT NOT NULL,
    seat_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    by_hand INTEGER NOT NULL,
    saved_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, seat_id, company_id),
    FOREIGN KEY (tenant_id, seat_id) REFERENCES seats (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX saved_accounts_company ON saved_accounts (tenant_id, company_id);

CREATE TABLE saved_account_reasons (
    tenant_id TEXT NOT NULL,
    seat_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    stage INTEGER,
    PRIMARY KEY (tenant_id, seat_id, company_id, opportunity_id),
    FOREIGN KEY (tenant_id, seat_id, company_id)
        REFERENCES saved_accounts (tenant_id, seat_id, company_id) ON DELETE CASCADE
);

CREATE TABLE saved_account_tags (
    tenant_id TEXT NOT NULL,
    seat_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    tag_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seat_id, company_id, tag_id),
    FOREIGN KEY (tenant_id, seat_id, company_id)
        REFERENCES saved_accounts (tenant_id, seat_id, company_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, tag_id) REFERENCES tags (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE threads (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seat_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    subject TEXT,
    copy_to_crm INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, seat_id) REFERENCES seats (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES people (tenant_id, id)
);

-- Notes, messages and InMails. `copy_to_crm` is 'yes', 'no' or 'thread' (left to the thread).
CREATE TABLE activities (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seat_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    person_id TEXT,
    company_id TEXT,
    thread_id TEXT,
    body TEXT NOT NULL,
    written_at INTEGER NOT NULL,
    copy_to_crm TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK ((person_id IS NULL) <> (company_id IS NULL)),
    FOREIGN KEY (tenant_id, seat_id) REFERENCES seats (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES people (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id),
    FOREIGN KEY (tenant_id, thread_id) REFERENCES threads (tenant_id, id)
);
CREATE INDEX activities_seat ON activities (tenant_id, seat_id, written_at);
CREATE INDEX activities_person ON activities (tenant_id, person_id);
CREATE INDEX activities_company ON activities (tenant_id, company_id);
CREATE INDEX activities_thread ON activities (tenant_id, thread_id);

-- One tenant has at most one live connection; a reconnect makes a new row.
CREATE TABLE crm_connections (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    org_url TEXT NOT NULL,
    auth_kind TEXT NOT NULL,
    admin_user_name TEXT,
    entra_tenant TEXT,
    client_id TEXT,
    authority_url TEXT,
    connected_as TEXT,
    companion_app_version TEXT,
    can_act_on_behalf_of_reps INTEGER NOT NULL,
    connected_at INTEGER NOT NULL,
    last_sync_at INTEGER,
    last_error TEXT,
    last_error_next_step TEXT,
    disconnected_at INTEGER,
    purged INTEGER NOT NULL DEFAULT FALSE,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX crm_connections_live ON crm_connections (tenant_id) WHERE disconnected_at IS NULL;

-- Encrypted credentials and tokens: key version byte, nonce, ciphertext and tag.
CREATE TABLE crm_secrets (
    tenant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    name TEXT NOT NULL,
    sealed BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, name),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES crm_connections (tenant_id, id) ON DELETE CASCADE
);

-- The admin's answers; `pipeline_stage` and `won_value_column` are NULL for "Not Sure".
CREATE TABLE crm_settings (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    auto_sync_all_seats INTEGER NOT NULL,
    pipeline_stage INTEGER,
    won_value_column TEXT,
    writeback_enabled INTEGER NOT NULL,
    writeback_items TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE crm_delta_tokens (
    tenant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    table_name TEXT NOT NULL,
    token TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, table_name),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES crm_connections (tenant_id, id) ON DELETE CASCADE
);

-- The mirror of the CRM rows we read: the columns the rules use, plus the row as read (`raw`).
CREATE TABLE crm_users (
    tenant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    id TEXT NOT NULL,
    full_name TEXT NOT NULL,
    email TEXT,
    email_key TEXT,
    disabled INTEGER NOT NULL,
    application_user INTEGER NOT NULL,
    raw TEXT NOT NULL,
    read_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES crm_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_users_email ON crm_users (tenant_id, email_key);

CREATE TABLE crm_accounts (
    tenant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    website TEXT,
    industry TEXT,
    location TEXT,
    employees INTEGER,
    raw TEXT NOT NULL,
    read_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES crm_connections (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE crm_contacts (
    tenant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    id TEXT NOT NULL,
    full_name TEXT NOT NULL,
    job_title TEXT,
    email TEXT,
    email_key TEXT,
    phone TEXT,
    location TEXT,
    account_id TEXT,
    raw TEXT NOT NULL,
    read_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES crm_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_contacts_email ON crm_contacts (tenant_id, email_key);
CREATE INDEX crm_contacts_account ON crm_contacts (tenant_id, account_id);

CREATE TABLE crm_leads (
    tenant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    id TEXT NOT NULL,
    full_name TEXT NOT NULL,
    company_name TEXT,
    job_title TEXT,
    email TEXT,
    email_key TEXT,
    phone TEXT,
    raw TEXT NOT NULL,
    read_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES crm_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_leads_email ON crm_leads (tenant_id, email_key);

-- `contact_ids` is a JSON array of ids; `money` a JSON object of column name -> decimal text.
CREATE TABLE crm_opportunities (
    tenant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    state_code INTEGER NOT NULL,
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    sales_stage INTEGER,
    account_id TEXT,
    contact_ids TEXT NOT NULL,
    currency_id TEXT,
    money TEXT NOT NULL,
    raw TEXT NOT NULL,
    read_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES crm_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_opportunities_owner ON crm_opportunities (tenant_id, owner_id);

-- Matches between workspace records and CRM rows. `origin` 'by_rep' is a rep's pin; a rejected
-- pair is remembered so automatic matching never brings it back.
CREATE TABLE person_matches (
    tenant_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    crm_table TEXT NOT NULL,
    crm_id TEXT NOT NULL,
    confidence INTEGER NOT NULL,
    origin TEXT NOT NULL,
    explanation TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, person_id, crm_table, crm_id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES people (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX person_matches_crm ON person_matches (tenant_id, crm_table, crm_id);

CREATE TABLE company_matches (
    tenant_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    confidence INTEGER NOT NULL,
    origin TEXT NOT NULL,
    explanation TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, company_id, account_id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX company_matches_account ON company_matches (tenant_id, account_id);

CREATE TABLE match_rejections (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    crm_table TEXT NOT NULL,
    crm_id TEXT NOT NULL,
    rejected_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, subject_kind, subject_id, crm_table, crm_id)
);

-- One writeback per activity: its state (kind in `state`, the whole state as JSON in
-- `state_detail`) and the timeline of events that led there.
CREATE TABLE writeback_records (
    tenant_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    seat_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    external_key TEXT NOT NULL,
    state TEXT NOT NULL,
    state_detail TEXT NOT NULL,
    crm_activity_id TEXT,
    state_since INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, activity_id),
    FOREIGN KEY (tenant_id, activity_id) REFERENCES activities (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX writeback_records_state ON writeback_records (tenant_id, state, state_since);

CREATE TABLE writeback_events (
    tenant_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    event TEXT,
    state TEXT NOT NULL,
    PRIMARY KEY (tenant_id, activity_id, seq),
    FOREIGN KEY (tenant_id, activity_id)
        REFERENCES writeback_records (tenant_id, activity_id) ON DELETE CASCADE
);

CREATE TABLE sync_runs (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    trigger TEXT NOT NULL,
    phase TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER,
    outcome TEXT,
    rows_done INTEGER NOT NULL,
    rows_total INTEGER,
    error TEXT,
    error_next_step TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES crm_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sync_runs_started ON sync_runs (tenant_id, started_at);

CREATE TABLE sync_run_errors (
    tenant_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    table_name TEXT,
    message TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, seq),
    FOREIGN KEY (tenant_id, run_id) REFERENCES sync_runs (tenant_id, id) ON DELETE CASCADE
);

-- Only one sync of a tenant runs at a time, across processes; an expired lease can be taken over.
CREATE TABLE sync_leases (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    token TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE purge_receipts (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    connection_id TEXT,
    purged_at INTEGER NOT NULL,
    receipt TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- The outbox. A job is 'queued' (claimable once `run_at` has passed), 'running' (claimed; held
-- while `locked_until` is in the future, claimable again after) or 'dead' (out of attempts).
-- Finished jobs are deleted. Among queued jobs a dedup key is unique per tenant and kind.
CREATE TABLE jobs (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedup_key TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    run_at INTEGER NOT NULL,
    locked_until INTEGER,
    lease_token TEXT,
    worker TEXT,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_at);
CREATE INDEX jobs_leased ON jobs (state, locked_until);
CREATE INDEX jobs_tenant ON jobs (tenant_id, state, created_at);
CREATE UNIQUE INDEX jobs_dedup ON jobs (tenant_id, kind, dedup_key) WHERE state = 'queued';
