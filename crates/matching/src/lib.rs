//! People ↔ CRM contacts/leads and companies ↔ CRM accounts: normalisation, blocking, scoring and
//! explanations. No IO, deterministic.
