//! The sync engine end to end: the emulator over HTTPS and OAuth, SQLite and PostgreSQL.

mod dynamics;
mod harness;
