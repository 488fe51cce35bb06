//! leadbridge's sync engine: connecting a tenant to its CRM (pre-flight first), importing the CRM
//! rows behind each rep's pipeline, writing activities back, and the workers that run it all.
//!
//! The engine works on the [`crm::Crm`] trait, never on a CRM's client directly; Microsoft
//! Dynamics 365 is [`crm::dynamics`].

pub mod crm;
