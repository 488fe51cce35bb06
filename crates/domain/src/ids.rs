//! Typed identifiers for every workspace and CRM record, so a seat id can never be passed where a
//! person id is expected. All are UUIDs; CRM ids are the Dataverse primary keys as read.

use std::fmt;

use uuid::Uuid;

macro_rules! id {
    ($(#[$doc:meta] $name:ident),+ $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id, for records we create.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

id! {
    /// A customer organisation holding a contract.
    TenantId,
    /// A person who signs in (admin, seat holder, or both).
    UserId,
    /// A licence seat of the contract.
    SeatId,
    /// A person in the workspace directory.
    PersonId,
    /// A company in the workspace directory.
    CompanyId,
    /// A note, message or InMail written in the workspace.
    ActivityId,
    /// A conversation of messages or InMails.
    ThreadId,
    /// A tag a rep puts on saved items.
    TagId,
    /// One connection of a tenant to a CRM org; a reconnect after a disconnect gets a new one.
    CrmConnectionId,
    /// Dataverse `accountid`.
    CrmAccountId,
    /// Dataverse `contactid`.
    CrmContactId,
    /// Dataverse `leadid`.
    CrmLeadId,
    /// Dataverse `opportunityid`.
    CrmOpportunityId,
    /// Dataverse `systemuserid`.
    CrmUserId,
    /// Dataverse `teamid` (opportunities may be team-owned).
    CrmTeamId,
    /// Dataverse `activityid` of an activity we wrote back.
    CrmActivityId,
    /// Dataverse `transactioncurrencyid`.
    CrmCurrencyId,
}
