//! Admin, CRM settings: the answers to the questions asked after connecting (auto sync, pipeline
//! stage, won value column, writeback), checked against what the connected org offers; the
//! choices themselves; and the what-if preview of a pipeline stage.

use std::collections::BTreeSet;
use std::fmt;

use axum::Json;
use axum::extract::State;
use domain::activity::ActivityKind;
use domain::crm::CompanionApp;
use domain::settings::{
    CrmSettings, OrgChoices, OrgStages, PipelineStage, SettingsError, WonValueField,
    WritebackItems, WritebackSettings, validate,
};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::crm::CompanionAppView;
use crate::auth::AdminUser;
use crate::json::{StrictJson, StrictQuery};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use crate::sync::SyncError;

const NOT_SURE: &str = "not_sure";

/// "At which stage does your sales team consider an opportunity to enter your pipeline?": a
/// `salesstage` option value of the org, or `"not_sure"` (all open opportunities).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageAnswer(pub PipelineStage);

impl<'de> Deserialize<'de> for StageAnswer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StageVisitor;

        impl Visitor<'_> for StageVisitor {
            type Value = StageAnswer;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sales stage option value (an integer) or \"not_sure\"")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StageAnswer, E> {
                i32::try_from(v)
                    .map(|v| StageAnswer(PipelineStage::Stage(v)))
                    .map_err(|_| E::custom(format!("{v} is not a sales stage option value")))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StageAnswer, E> {
                i32::try_from(v)
                    .map(|v| StageAnswer(PipelineStage::Stage(v)))
                    .map_err(|_| E::custom(format!("{v} is not a sales stage option value")))
            }

            // Query strings carry everything as text.
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StageAnswer, E> {
                if v == NOT_SURE {
                    return Ok(StageAnswer(PipelineStage::NotSure));
                }
                v.parse::<i32>()
                    .map(|v| StageAnswer(PipelineStage::Stage(v)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }

        d.deserialize_any(StageVisitor)
    }
}

impl Serialize for StageAnswer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            PipelineStage::Stage(v) => s.serialize_i32(v),
            PipelineStage::NotSure => s.serialize_str(NOT_SURE),
        }
    }
}

fn not_sure_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([NOT_SURE]))
        .into()
}

impl PartialSchema for StageAnswer {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Integer).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int32),
            )))
            .item(not_sure_schema())
            .description(Some(
                "A sales stage option value of the org, or \"not_sure\" (all open opportunities).",
            ))
            .into()
    }
}

impl ToSchema for StageAnswer {}

/// "Where do you store the value for a won opportunity?": a money column of opportunity by
/// logical name, or `"not_sure"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WonAnswer(pub WonValueField);

impl<'de> Deserialize<'de> for WonAnswer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(WonAnswer(if text == NOT_SURE {
            WonValueField::NotSure
        } else {
            WonValueField::Column(text)
        }))
    }
}

impl Serialize for WonAnswer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            WonValueField::Column(c) => s.serialize_str(c),
            WonValueField::NotSure => s.serialize_str(NOT_SURE),
        }
    }
}

impl PartialSchema for WonAnswer {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "The logical name of a money column of opportunity, or \"not_sure\".",
            ))
            .into()
    }
}

impl ToSchema for WonAnswer {}

const KINDS: [(ActivityKind, &str); 3] = [
    (ActivityKind::InMail, "inmail"),
    (ActivityKind::Message, "message"),
    (ActivityKind::Note, "note"),
];

/// "Sync back all data items" (`"all"`) or the chosen ones (`["inmail", "message", "note"]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemsAnswer(pub WritebackItems);

impl<'de> Deserialize<'de> for ItemsAnswer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ItemsVisitor;

        impl<'de> Visitor<'de> for ItemsVisitor {
            type Value = ItemsAnswer;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"all\" or a list of \"inmail\", \"message\", \"note\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ItemsAnswer, E> {
                if v == "all" {
                    Ok(ItemsAnswer(WritebackItems::All))
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ItemsAnswer, A::Error> {
                let mut kinds = BTreeSet::new();
                while let Some(word) = seq.next_element::<String>()? {
                    let kind = KINDS
                        .iter()
                        .find(|(_, w)| *w == word)
                        .map(|(k, _)| *k)
                        .ok_or_else(|| {
                            de::Error::custom(format!(
                                "{word:?} is not an item; use \"inmail\", \"message\" or \"note\""
                            ))
                        })?;
                    if !kinds.insert(kind) {
                        return Err(de::Error::custom(format!("{word:?} is listed twice")));
                    }
                }
                Ok(ItemsAnswer(WritebackItems::Chosen(kinds)))
            }
        }

        d.deserialize_any(ItemsVisitor)
    }
}

impl Serialize for ItemsAnswer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            WritebackItems::All => s.serialize_str("all"),
            WritebackItems::Chosen(kinds) => s.collect_seq(
                KINDS
                    .iter()
                    .filter(|(k, _)| kinds.contains(k))
                    .map(|(_, w)| *w),
            ),
        }
    }
}

impl PartialSchema for ItemsAnswer {
    fn schema() -> RefOr<Schema> {
        let item = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(KINDS.iter().map(|(_, w)| *w)));
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["all"])),
            )
            .item(ArrayBuilder::new().items(item).unique_items(true))
            .into()
    }
}

impl ToSchema for ItemsAnswer {}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WritebackAnswer {
    /// "Enable leadbridge to sync back data to your CRM?" (needs the companion app).
    pub enabled: bool,
    pub items: ItemsAnswer,
}

/// The admin's answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrmSettingsBody {
    /// "Auto sync all seat holders with CRM?" No leaves it to each seat in Seat Management.
    pub auto_sync_all_seats: bool,
    pub pipeline_stage: StageAnswer,
    pub won_value_field: WonAnswer,
    pub writeback: WritebackAnswer,
}

#[derive(Serialize, ToSchema)]
pub struct CrmSettingsView {
    /// Whether the admin has answered yet; before that these are the defaults.
    pub answered: bool,
    pub auto_sync_all_seats: bool,
    pub pipeline_stage: StageAnswer,
    pub won_value_field: WonAnswer,
    pub writeback: WritebackAnswer,
}

fn settings_view(settings: Option<CrmSettings>) -> CrmSettingsView {
    let answered = settings.is_some();
    let settings = settings.unwrap_or(CrmSettings {
        auto_sync_all_seats: false,
        pipeline_stage: PipelineStage::NotSure,
        won_value_field: WonValueField::NotSure,
        writeback: WritebackSettings::OFF,
    });
    CrmSettingsView {
        answered,
        auto_sync_all_seats: settings.auto_sync_all_seats,
        pipeline_stage: StageAnswer(settings.pipeline_stage),
        won_value_field: WonAnswer(settings.won_value_field),
        writeback: WritebackAnswer {
            enabled: settings.writeback.enabled,
            items: ItemsAnswer(settings.writeback.items),
        },
    }
}

/// The admin's answers (the defaults until answered).
#[utoipa::path(get, path = "/api/v1/admin/crm/settings", tag = "admin: crm",
    responses((status = 200, description = "The CRM settings", body = CrmSettingsView)))]
pub(crate) async fn get_settings(
    admin: AdminUser,
    State(state): State<AppState>,
) -> Result<Json<CrmSettingsView>, Problem> {
    let settings = admin.0.tenant(&state).crm_settings().await?;
    Ok(Json(settings_view(settings)))
}

/// What the org offers; without a connection, nothing but the Not Sure answers.
pub(crate) async fn org_choices(
    state: &AppState,
    admin: &AdminUser,
) -> Result<OrgChoices, Problem> {
    match state.sync.choices(admin.0.user.tenant).await {
        Ok(choices) => Ok(choices),
        Err(SyncError::NotConnected | SyncError::EngineMissing(_)) => Ok(OrgChoices {
            stages: OrgStages::default(),
            money_columns: Vec::new(),
            companion_app: CompanionApp::Missing,
        }),
        Err(e) => Err(e.into()),
    }
}

fn settings_error_path(error: &SettingsError) -> &'static str {
    match error {
        SettingsError::CompanionAppMissing => "writeback.enabled",
        SettingsError::NoWritebackItems => "writeback.items",
        SettingsError::UnknownStage(_) => "pipeline_stage",
        SettingsError::UnknownMoneyColumn(_) => "won_value_field",
    }
}

/// Answers the CRM settings questions. Stages and columns must be ones the connected org has;
/// writeback needs the companion app. A sync is queued so that the answers take effect at once.
#[utoipa::path(put, path = "/api/v1/admin/crm/settings", tag = "admin: crm",
    request_body = CrmSettingsBody,
    responses((status = 200, description = "The settings as stored", body = CrmSettingsView)))]
pub(crate) async fn put_settings(
    admin: AdminUser,
    State(state): State<AppState>,
    StrictJson(body): StrictJson<CrmSettingsBody>,
) -> Result<Json<CrmSettingsView>, Problem> {
    let settings = CrmSettings {
        auto_sync_all_seats: body.auto_sync_all_seats,
        pipeline_stage: body.pipeline_stage.0,
        won_value_field: body.won_value_field.0,
        writeback: WritebackSettings {
            enabled: body.writeback.enabled,
            items: body.writeback.items.0,
        },
    };
    let choices = org_choices(&state, &admin).await?;
    if let Err(errors) = validate(&settings, &choices) {
        let mut problem = Problem::new(ProblemCode::ValidationFailed);
        for error in &errors {
            problem = problem.field(settings_error_path(error), error.to_string());
        }
        return Err(problem);
    }
    let mut tenant = admin.0.tenant(&state);
    tenant.put_crm_settings(&settings).await?;
    // The answers take effect at once (a stage chosen saves its leads now, not at the next
    // scheduled sync). The settings stay saved if the sync cannot be queued: the status shows why.
    if let Err(e) = state.sync.sync_now(admin.0.user.tenant).await {
        tracing::warn!(error = %e, "no sync was queued after the CRM settings changed");
    }
    Ok(Json(settings_view(tenant.crm_settings().await?)))
}

#[derive(Serialize, ToSchema)]
pub struct StageChoice {
    pub value: i32,
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub struct MoneyColumnChoice {
    pub logical_name: String,
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub struct SettingsChoices {
    /// The org's opportunity sales stages in its order; "not_sure" is always offered too.
    pub stages: Vec<StageChoice>,
    /// The org's money columns on opportunity; "not_sure" is always offered too.
    pub money_columns: Vec<MoneyColumnChoice>,
    pub companion_app: CompanionAppView,
}

/// The answers the connected org offers for the stage and won value questions.
#[utoipa::path(get, path = "/api/v1/admin/crm/settings/choices", tag = "admin: crm",
    responses((status = 200, description = "The org's stages and money columns", body = SettingsChoices)))]
pub(crate) async fn choices(
    admin: AdminUser,
    State(state): State<AppState>,
) -> Result<Json<SettingsChoices>, Problem> {
    let choices = state.sync.choices(admin.0.user.tenant).await?;
    Ok(Json(SettingsChoices {
        stages: choices
            .stages
            .options()
            .iter()
            .map(|s| StageChoice {
                value: s.value,
                label: s.label.clone(),
            })
            .collect(),
        money_columns: choices
            .money_columns
            .iter()
            .map(|c| MoneyColumnChoice {
                logical_name: c.logical_name.clone(),
                label: c.label.clone(),
            })
            .collect(),
        companion_app: (&choices.companion_app).into(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// A sales stage option value, or `not_sure`.
    #[param(value_type = String)]
    pub pipeline_stage: StageAnswer,
}

#[derive(Serialize, ToSchema)]
pub struct PreviewView {
    pub open_opportunities: u64,
    /// Open opportunities past the stage (all open ones for Not Sure).
    pub qualifying_opportunities: u64,
    /// What would be saved for the reps with sync on.
    pub accounts: u64,
    pub leads: u64,
    pub seats: u64,
}

/// What a pipeline stage answer would bring in, before saving it.
#[utoipa::path(get, path = "/api/v1/admin/crm/preview", tag = "admin: crm",
    params(PreviewQuery),
    responses((status = 200, description = "The what-if counts", body = PreviewView)))]
pub(crate) async fn preview(
    admin: AdminUser,
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<PreviewQuery>,
) -> Result<Json<PreviewView>, Problem> {
    let preview = state
        .sync
        .preview(admin.0.user.tenant, query.pipeline_stage.0)
        .await?;
    Ok(Json(PreviewView {
        open_opportunities: preview.open_opportunities,
        qualifying_opportunities: preview.qualifying_opportunities,
        accounts: preview.accounts,
        leads: preview.leads,
        seats: preview.seats,
    }))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(choices))
        .routes(routes!(preview))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<CrmSettingsBody, Problem> {
        crate::json::parse_json(json.as_bytes())
    }

    #[test]
    fn answers_round_trip_including_not_sure() {
        let cases = [
            r#"{"auto_sync_all_seats":true,"pipeline_stage":"not_sure","won_value_field":"not_sure","writeback":{"enabled":false,"items":"all"}}"#,
            r#"{"auto_sync_all_seats":false,"pipeline_stage":100000001,"won_value_field":"actualvalue","writeback":{"enabled":true,"items":["inmail","note"]}}"#,
            r#"{"auto_sync_all_seats":false,"pipeline_stage":-3,"won_value_field":"new_signed","writeback":{"enabled":true,"items":[]}}"#,
        ];
        for json in cases {
            let body = parse(json).unwrap();
            assert_eq!(serde_json::to_string(&body).unwrap(), json);
        }
    }

    #[test]
    fn wrong_answers_name_their_field() {
        let cases = [
            (r#""soon""#, "pipeline_stage"),
            ("1.5", "pipeline_stage"),
            ("4294967296", "pipeline_stage"),
        ];
        for (stage, path) in cases {
            let json = format!(
                r#"{{"auto_sync_all_seats":true,"pipeline_stage":{stage},"won_value_field":"not_sure","writeback":{{"enabled":false,"items":"all"}}}}"#
            );
            let p = parse(&json).unwrap_err();
            assert_eq!(p.errors[0].path, path, "{stage}");
        }
        let items = [r#""some""#, r#"["note","note"]"#, r#"["email"]"#, "3"];
        for items in items {
            let json = format!(
                r#"{{"auto_sync_all_seats":true,"pipeline_stage":"not_sure","won_value_field":"not_sure","writeback":{{"enabled":true,"items":{items}}}}}"#
            );
            let p = parse(&json).unwrap_err();
            assert_eq!(p.errors[0].path, "writeback.items", "{items}");
        }
    }
}
