//! Tenants (a customer and its contract), the users who sign in with their roles, and the seats
//! reps hold with each seat's CRM sync choice and remembered CRM user.

use domain::activity::CopyToCrmDefault;
use domain::ids::{CrmUserId, SeatId, TenantId, UserId};
use domain::tenant::{Contract, Seat, SeatCrmSync, Tenant, User, normalize_email};
use secrecy::SecretString;
use sqlx::any::AnyRow;

use crate::codec::Word;
use crate::db::{RowExt, millis};
use crate::error::{Result, StoreError};
use crate::{Store, TenantStore, accounts};

/// A user to create. Without a password the user cannot sign in until one is set.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub admin: bool,
    pub password: Option<SecretString>,
}

/// A seat as Seat Management shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatInfo {
    pub seat: Seat,
    pub holder_name: String,
    /// The CRM user the last sync mapped this seat to (what "In CRM" rests on).
    pub crm_user: Option<CrmUserId>,
    pub copy_to_crm_default: CopyToCrmDefault,
}

pub(crate) fn valid_email(email: &str) -> Result<String> {
    let normalized = normalize_email(email)
        .filter(|e| e.contains('@') && !e.chars().any(char::is_whitespace))
        .ok_or_else(|| StoreError::Invalid(format!("{email:?} is not an email address")))?;
    Ok(normalized)
}

fn required(what: &str, text: &str) -> Result<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        Err(StoreError::Invalid(format!("{what} cannot be empty")))
    } else {
        Ok(trimmed.to_owned())
    }
}

fn tenant_from_row(row: &AnyRow) -> Result<Tenant> {
    let seat_count = u32::try_from(row.int("seat_count")?)
        .map_err(|_| StoreError::corrupt("seat_count out of range"))?;
    Ok(Tenant {
        id: row.id("id")?,
        name: row.text("name")?,
        contract: Contract { seat_count },
    })
}

pub(crate) const USER_SELECT: &str =
    "u.tenant_id, u.id, u.email, u.display_name, u.is_admin, u.language, s.id AS seat_id";
pub(crate) const USER_FROM: &str =
    "users u LEFT JOIN seats s ON s.tenant_id = u.tenant_id AND s.holder_id = u.id";

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: row.id("id")?,
        tenant: row.id("tenant_id")?,
        display_name: row.text("display_name")?,
        email: Some(row.text("email")?),
        admin: row.flag("is_admin")?,
        seat: row.opt_id("seat_id")?,
        language: row.opt_text("language")?,
    })
}

const SEAT_COLUMNS: &str = "s.tenant_id, s.id, s.holder_id, s.crm_sync, s.crm_user_id, \
     s.copy_to_crm_default, u.email, u.display_name FROM seats s JOIN users u \
     ON u.tenant_id = s.tenant_id AND u.id = s.holder_id";

fn seat_from_row(row: &AnyRow) -> Result<SeatInfo> {
    Ok(SeatInfo {
        seat: Seat {
            id: row.id("id")?,
            tenant: row.id("tenant_id")?,
            holder: row.id("holder_id")?,
            email: Some(row.text("email")?),
            crm_sync: SeatCrmSync::from_word(&row.text("crm_sync")?)?,
        },
        holder_name: row.text("display_name")?,
        crm_user: row.opt_id("crm_user_id")?,
        copy_to_crm_default: CopyToCrmDefault {
            ticked: row.flag("copy_to_crm_default")?,
        },
    })
}

impl Store {
    pub async fn create_tenant(&self, name: &str, seat_count: u32) -> Result<Tenant> {
        let tenant = Tenant {
            id: TenantId::new_random(),
            name: required("A tenant name", name)?,
            contract: Contract { seat_count },
        };
        sqlx::query(
            "INSERT INTO tenants (id, name, seat_count, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(tenant.id.to_string())
        .bind(&tenant.name)
        .bind(i64::from(seat_count))
        .bind(millis(self.now()))
        .execute(&self.pool)
        .await?;
        Ok(tenant)
    }

    /// Every tenant, oldest first: what the workers schedule syncs for.
    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        let rows = sqlx::query("SELECT id, name, seat_count FROM tenants ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(tenant_from_row).collect()
    }
}

impl TenantStore {
    /// The tenant itself and its contract.
    pub async fn tenant_info(&mut self) -> Result<Tenant> {
        let t = self.tid();
        let row = sqlx::query("SELECT id, name, seat_count FROM tenants WHERE id = $1")
            .bind(t)
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .ok_or(StoreError::NotFound("tenant"))?;
        tenant_from_row(&row)
    }

    /// Changes the contract. Lowering it below the seats held frees none: no new seat can be
    /// assigned until enough are released.
    pub async fn set_seat_count(&mut self, seat_count: u32) -> Result<()> {
        let t = self.tid();
        let done = sqlx::query("UPDATE tenants SET seat_count = $2 WHERE id = $1")
            .bind(t)
            .bind(i64::from(seat_count))
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("tenant"));
        }
        Ok(())
    }

    /// Creates a user; the email (trimmed, lowercased) must not be used by any user of any tenant,
    /// since signing in is by email alone.
    pub async fn create_user(&mut self, new: NewUser) -> Result<User> {
        let email = valid_email(&new.email)?;
        let display_name = required("A user's name", &new.display_name)?;
        let password_hash = match new.password {
            Some(password) => Some(accounts::hash_password_blocking(password).await?),
            None => None,
        };
        let user = User {
            id: UserId::new_random(),
            tenant: self.tenant,
            display_name,
            email: Some(email.clone()),
            admin: new.admin,
            seat: None,
            language: None,
        };
        let (t, now) = (self.tid(), millis(self.now()));
        sqlx::query(
            "INSERT INTO users (tenant_id, id, email, display_name, is_admin, password_hash, created_at) \
             SELECT id, $2, $3, $4, $5, $6, $7 FROM tenants WHERE id = $1",
        )
        .bind(t)
        .bind(user.id.to_string())
        .bind(&email)
        .bind(&user.display_name)
        .bind(user.admin)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(|e| StoreError::from(e).on_unique("A user with this email address already exists."))
        .and_then(|done| {
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::NotFound("tenant"))
            }
        })?;
        Ok(user)
    }

    pub async fn user(&mut self, user: UserId) -> Result<Option<User>> {
        let t = self.tid();
        let sql =
            format!("SELECT {USER_SELECT} FROM {USER_FROM} WHERE u.tenant_id = $1 AND u.id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(user.to_string())
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn user_by_email(&mut self, email: &str) -> Result<Option<User>> {
        let Some(email) = normalize_email(email) else {
            return Ok(None);
        };
        let t = self.tid();
        let sql = format!(
            "SELECT {USER_SELECT} FROM {USER_FROM} WHERE u.tenant_id = $1 AND u.email = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(email)
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// All users, by name.
    pub async fn users(&mut self) -> Result<Vec<User>> {
        let t = self.tid();
        let sql = format!(
            "SELECT {USER_SELECT} FROM {USER_FROM} WHERE u.tenant_id = $1 ORDER BY u.display_name, u.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn set_admin(&mut self, user: UserId, admin: bool) -> Result<()> {
        let t = self.tid();
        let done = sqlx::query("UPDATE users SET is_admin = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(user.to_string())
            .bind(admin)
            .execute(&mut *self.conn().await?)
            .await?;
        found(done.rows_affected(), "user")
    }

    /// Remembers the user's UI language (`None`: the browser's own). The caller checks the code
    /// is one the UI has; the column takes at most 16 characters.
    pub async fn set_language(&mut self, user: UserId, language: Option<&str>) -> Result<()> {
        if language.is_some_and(|l| l.is_empty() || l.len() > 16) {
            return Err(StoreError::Invalid(
                "a language code is 1 to 16 characters".to_owned(),
            ));
        }
        let t = self.tid();
        let done = sqlx::query("UPDATE users SET language = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(user.to_string())
            .bind(language)
            .execute(&mut *self.conn().await?)
            .await?;
        found(done.rows_affected(), "user")
    }

    /// Gives the user a seat, if the contract has one left. The contract is checked under the
    /// tenant's row lock, so two admins assigning at once cannot exceed it.
    pub async fn assign_seat(&mut self, holder: UserId) -> Result<SeatInfo> {
        let (t, now) = (self.tid(), millis(self.now()));
        let seat = SeatId::new_random();
        let mut tx = self.atomic().await?;
        // Touching the tenant row takes its lock on PostgreSQL (SQLite already holds the write lock).
        let locked = sqlx::query("UPDATE tenants SET seat_count = seat_count WHERE id = $1")
            .bind(&t)
            .execute(&mut *tx)
            .await?;
        found(locked.rows_affected(), "tenant")?;
        let row = sqlx::query(
            "SELECT t.seat_count, (SELECT COUNT(*) FROM seats s WHERE s.tenant_id = t.id) AS held \
             FROM tenants t WHERE t.id = $1",
        )
        .bind(&t)
        .fetch_one(&mut *tx)
        .await?;
        let (seat_count, held) = (row.int("seat_count")?, row.int("held")?);
        if held >= seat_count {
            return Err(StoreError::NoSeatLeft {
                seat_count: u32::try_from(seat_count).unwrap_or(u32::MAX),
            });
        }
        sqlx::query(
            "INSERT INTO seats (tenant_id, id, holder_id, crm_sync, created_at) \
             SELECT tenant_id, $2, id, $4, $5 FROM users WHERE tenant_id = $1 AND id = $3",
        )
        .bind(&t)
        .bind(seat.to_string())
        .bind(holder.to_string())
        .bind(SeatCrmSync::FollowTenant.word())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from(e).on_unique("This user already holds a seat."))
        .and_then(|done| found(done.rows_affected(), "user"))?;
        tx.commit().await?;
        self.seat(seat).await?.ok_or(StoreError::NotFound("seat"))
    }

    /// All seats, by holder name.
    pub async fn seats(&mut self) -> Result<Vec<SeatInfo>> {
        let t = self.tid();
        let sql =
            format!("SELECT {SEAT_COLUMNS} WHERE s.tenant_id = $1 ORDER BY u.display_name, s.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.iter().map(seat_from_row).collect()
    }

    pub async fn seat(&mut self, seat: SeatId) -> Result<Option<SeatInfo>> {
        let t = self.tid();
        let sql = format!("SELECT {SEAT_COLUMNS} WHERE s.tenant_id = $1 AND s.id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(seat.to_string())
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        row.as_ref().map(seat_from_row).transpose()
    }

    pub async fn seat_of_user(&mut self, user: UserId) -> Result<Option<SeatInfo>> {
        let t = self.tid();
        let sql = format!("SELECT {SEAT_COLUMNS} WHERE s.tenant_id = $1 AND s.holder_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(user.to_string())
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        row.as_ref().map(seat_from_row).transpose()
    }

    /// The admin's per-seat answer in Seat Management.
    pub async fn set_seat_crm_sync(&mut self, seat: SeatId, sync: SeatCrmSync) -> Result<()> {
        let t = self.tid();
        let done = sqlx::query("UPDATE seats SET crm_sync = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(seat.to_string())
            .bind(sync.word())
            .execute(&mut *self.conn().await?)
            .await?;
        found(done.rows_affected(), "seat")
    }

    /// Remembers which CRM user a sync mapped the seat to (none when it found none).
    pub async fn set_seat_crm_user(&mut self, seat: SeatId, user: Option<CrmUserId>) -> Result<()> {
        let t = self.tid();
        let done =
            sqlx::query("UPDATE seats SET crm_user_id = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(t)
                .bind(seat.to_string())
                .bind(user.map(|u| u.to_string()))
                .execute(&mut *self.conn().await?)
                .await?;
        found(done.rows_affected(), "seat")
    }
}

pub(crate) fn found(rows: u64, what: &'static str) -> Result<()> {
    if rows == 0 {
        Err(StoreError::NotFound(what))
    } else {
        Ok(())
    }
}
