//! The CRM settings an admin answers after connecting (auto sync, pipeline stage, won value
//! column, writeback) and their validation against what the connected org really has.

use std::collections::BTreeSet;

use crate::activity::ActivityKind;
use crate::crm::{CompanionApp, StageOption};

/// "At which stage does your sales team consider an opportunity to enter your pipeline?"
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipelineStage {
    /// A `salesstage` option value of the org.
    Stage(i32),
    /// All open opportunities qualify.
    NotSure,
}

/// "Where do you store the value for a won opportunity?"
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WonValueField {
    /// A money column of opportunity, by logical name.
    Column(String),
    /// `actualvalue`, falling back to `estimatedvalue`.
    NotSure,
}

/// "Sync back all data items (recommended)" or a chosen subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WritebackItems {
    All,
    Chosen(BTreeSet<ActivityKind>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WritebackSettings {
    pub enabled: bool,
    pub items: WritebackItems,
}

impl WritebackSettings {
    pub const OFF: WritebackSettings = WritebackSettings {
        enabled: false,
        items: WritebackItems::All,
    };

    /// Whether items of this kind are written back at all.
    pub fn covers(&self, kind: ActivityKind) -> bool {
        self.enabled
            && match &self.items {
                WritebackItems::All => true,
                WritebackItems::Chosen(kinds) => kinds.contains(&kind),
            }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmSettings {
    /// "Auto sync all seat holders with CRM?" Yes is `true`.
    pub auto_sync_all_seats: bool,
    pub pipeline_stage: PipelineStage,
    pub won_value_field: WonValueField,
    pub writeback: WritebackSettings,
}

/// The org's opportunity sales stages in the order the org lists them; that order, not the
/// option values, is what "after" means.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgStages {
    stages: Vec<StageOption>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrgStagesError {
    #[error("the org lists the sales stage value {0} twice")]
    DuplicateValue(i32),
}

impl OrgStages {
    pub fn new(stages: Vec<StageOption>) -> Result<Self, OrgStagesError> {
        let mut seen = BTreeSet::new();
        for stage in &stages {
            if !seen.insert(stage.value) {
                return Err(OrgStagesError::DuplicateValue(stage.value));
            }
        }
        Ok(OrgStages { stages })
    }

    pub fn options(&self) -> &[StageOption] {
        &self.stages
    }

    fn position(&self, value: i32) -> Option<usize> {
        self.stages.iter().position(|s| s.value == value)
    }
}

/// A money column of opportunity the org has, offered as an answer to the won value question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoneyColumn {
    pub logical_name: String,
    pub label: String,
}

/// What the connected org offers, read from its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgChoices {
    pub stages: OrgStages,
    pub money_columns: Vec<MoneyColumn>,
    pub companion_app: CompanionApp,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "Writeback needs the leadbridge for Dynamics app in your CRM. Select Get it now, install it, then refresh this page."
    )]
    CompanionAppMissing,
    #[error("Choose at least one item to sync back, or choose Sync back all data items.")]
    NoWritebackItems,
    #[error(
        "The stage you chose is not one of your CRM's opportunity sales stages. Choose another stage or Not Sure."
    )]
    UnknownStage(i32),
    #[error(
        "The column you chose is not a money column on opportunity in your CRM. Choose another column or Not Sure."
    )]
    UnknownMoneyColumn(String),
}

/// Every problem with the admin's answers at once, so the form can show them all.
pub fn validate(settings: &CrmSettings, org: &OrgChoices) -> Result<(), Vec<SettingsError>> {
    let mut errors = Vec::new();
    if settings.writeback.enabled {
        if !org.companion_app.is_installed() {
            errors.push(SettingsError::CompanionAppMissing);
        }
        if matches!(&settings.writeback.items, WritebackItems::Chosen(kinds) if kinds.is_empty()) {
            errors.push(SettingsError::NoWritebackItems);
        }
    }
    if let Err(error) = stage_threshold(settings.pipeline_stage, &org.stages) {
        errors.push(error);
    }
    if let WonValueField::Column(name) = &settings.won_value_field
        && !org.money_columns.iter().any(|c| &c.logical_name == name)
    {
        errors.push(SettingsError::UnknownMoneyColumn(name.clone()));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Which stages let an open opportunity into the pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageThreshold {
    AnyOpen,
    /// The option values listed after the chosen one. The seed guide says, in all five languages,
    /// opportunities "whose stage is past the one chosen" (fr: "au-delà de celle choisie"), so the
    /// chosen stage itself does not qualify.
    After {
        chosen: i32,
        later: BTreeSet<i32>,
    },
}

impl StageThreshold {
    /// Whether an open opportunity at this `salesstage` is in the pipeline. With a stage chosen, an
    /// opportunity with no stage, or a stage the org does not list, cannot be said to be past it.
    pub fn admits(&self, sales_stage: Option<i32>) -> bool {
        match self {
            StageThreshold::AnyOpen => true,
            StageThreshold::After { later, .. } => sales_stage.is_some_and(|s| later.contains(&s)),
        }
    }
}

/// The threshold for the answered stage. A stage the org no longer lists is an error rather than a
/// guess: the sync must stop importing and ask the admin, not unsave or save everything.
pub fn stage_threshold(
    stage: PipelineStage,
    org: &OrgStages,
) -> Result<StageThreshold, SettingsError> {
    match stage {
        PipelineStage::NotSure => Ok(StageThreshold::AnyOpen),
        PipelineStage::Stage(value) => {
            let position = org
                .position(value)
                .ok_or(SettingsError::UnknownStage(value))?;
            let later = org
                .stages
                .iter()
                .skip(position + 1)
                .map(|s| s.value)
                .collect();
            Ok(StageThreshold::After {
                chosen: value,
                later,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The out-of-the-box `salesstage` options (MS Learn, opportunity entity reference).
    fn default_stages() -> OrgStages {
        OrgStages::new(
            [(0, "Qualify"), (1, "Develop"), (2, "Propose"), (3, "Close")]
                .into_iter()
                .map(|(value, label)| StageOption {
                    value,
                    label: label.into(),
                })
                .collect(),
        )
        .unwrap()
    }

    fn org(companion_app: CompanionApp) -> OrgChoices {
        OrgChoices {
            stages: default_stages(),
            money_columns: vec![
                MoneyColumn {
                    logical_name: "actualvalue".into(),
                    label: "Actual Revenue".into(),
                },
                MoneyColumn {
                    logical_name: "new_signedvalue".into(),
                    label: "Signed value".into(),
                },
            ],
            companion_app,
        }
    }

    fn installed() -> CompanionApp {
        CompanionApp::Installed {
            version: "1.0.0.0".into(),
        }
    }

    fn settings(
        stage: PipelineStage,
        won: WonValueField,
        writeback: WritebackSettings,
    ) -> CrmSettings {
        CrmSettings {
            auto_sync_all_seats: true,
            pipeline_stage: stage,
            won_value_field: won,
            writeback,
        }
    }

    fn writeback(enabled: bool, items: WritebackItems) -> WritebackSettings {
        WritebackSettings { enabled, items }
    }

    #[test]
    fn validation_table() {
        use SettingsError::*;
        let none = || WritebackItems::Chosen(BTreeSet::new());
        let notes = || WritebackItems::Chosen(BTreeSet::from([ActivityKind::Note]));
        let column = |name: &str| WonValueField::Column(name.into());
        let cases: Vec<(CrmSettings, CompanionApp, Result<(), Vec<SettingsError>>)> = vec![
            (
                settings(
                    PipelineStage::NotSure,
                    WonValueField::NotSure,
                    WritebackSettings::OFF,
                ),
                CompanionApp::Missing,
                Ok(()),
            ),
            (
                settings(
                    PipelineStage::Stage(1),
                    column("actualvalue"),
                    writeback(true, WritebackItems::All),
                ),
                installed(),
                Ok(()),
            ),
            (
                settings(
                    PipelineStage::Stage(3),
                    column("new_signedvalue"),
                    writeback(true, notes()),
                ),
                installed(),
                Ok(()),
            ),
            (
                settings(
                    PipelineStage::NotSure,
                    WonValueField::NotSure,
                    writeback(true, WritebackItems::All),
                ),
                CompanionApp::Missing,
                Err(vec![CompanionAppMissing]),
            ),
            (
                settings(
                    PipelineStage::NotSure,
                    WonValueField::NotSure,
                    writeback(true, none()),
                ),
                installed(),
                Err(vec![NoWritebackItems]),
            ),
            // A subset chosen while writeback is off is just remembered for later.
            (
                settings(
                    PipelineStage::NotSure,
                    WonValueField::NotSure,
                    writeback(false, none()),
                ),
                CompanionApp::Missing,
                Ok(()),
            ),
            (
                settings(
                    PipelineStage::Stage(7),
                    WonValueField::NotSure,
                    WritebackSettings::OFF,
                ),
                installed(),
                Err(vec![UnknownStage(7)]),
            ),
            (
                settings(
                    PipelineStage::NotSure,
                    column("estimatedvalue"),
                    WritebackSettings::OFF,
                ),
                installed(),
                Err(vec![UnknownMoneyColumn("estimatedvalue".into())]),
            ),
            (
                settings(
                    PipelineStage::Stage(9),
                    column("name"),
                    writeback(true, none()),
                ),
                CompanionApp::Missing,
                Err(vec![
                    CompanionAppMissing,
                    NoWritebackItems,
                    UnknownStage(9),
                    UnknownMoneyColumn("name".into()),
                ]),
            ),
        ];
        for (settings, app, expected) in cases {
            assert_eq!(validate(&settings, &org(app)), expected, "{settings:?}");
        }
    }

    #[test]
    fn errors_read_as_sentences_for_the_admin() {
        assert_eq!(
            SettingsError::CompanionAppMissing.to_string(),
            "Writeback needs the leadbridge for Dynamics app in your CRM. Select Get it now, install it, then refresh this page."
        );
    }

    #[test]
    fn writeback_covers_only_chosen_kinds_when_enabled() {
        let chosen = writeback(
            true,
            WritebackItems::Chosen(BTreeSet::from([ActivityKind::InMail, ActivityKind::Note])),
        );
        let cases = [
            (
                writeback(true, WritebackItems::All),
                ActivityKind::Message,
                true,
            ),
            (
                writeback(false, WritebackItems::All),
                ActivityKind::Message,
                false,
            ),
            (chosen.clone(), ActivityKind::InMail, true),
            (chosen.clone(), ActivityKind::Note, true),
            (chosen.clone(), ActivityKind::Message, false),
            (
                WritebackSettings {
                    enabled: false,
                    ..chosen
                },
                ActivityKind::Note,
                false,
            ),
        ];
        for (settings, kind, expected) in cases {
            assert_eq!(settings.covers(kind), expected, "{settings:?} {kind:?}");
        }
    }

    #[test]
    fn threshold_admits_only_stages_strictly_after_the_chosen_one() {
        let stages = default_stages();
        let develop = stage_threshold(PipelineStage::Stage(1), &stages).unwrap();
        let cases = [
            (None, false),
            (Some(0), false),
            (Some(1), false),
            (Some(2), true),
            (Some(3), true),
            (Some(42), false),
        ];
        for (stage, expected) in cases {
            assert_eq!(develop.admits(stage), expected, "{stage:?}");
        }
        let close = stage_threshold(PipelineStage::Stage(3), &stages).unwrap();
        assert!(!close.admits(Some(3)), "nothing is after the last stage");
        let any = stage_threshold(PipelineStage::NotSure, &stages).unwrap();
        assert!(any.admits(None) && any.admits(Some(0)) && any.admits(Some(42)));
    }

    #[test]
    fn after_follows_the_orgs_order_not_the_option_values() {
        let stages = OrgStages::new(vec![
            StageOption {
                value: 100_000_002,
                label: "Discover".into(),
            },
            StageOption {
                value: 100_000_000,
                label: "Demo".into(),
            },
            StageOption {
                value: 100_000_001,
                label: "Negotiate".into(),
            },
        ])
        .unwrap();
        let discover = stage_threshold(PipelineStage::Stage(100_000_002), &stages).unwrap();
        assert!(discover.admits(Some(100_000_000)));
        assert!(discover.admits(Some(100_000_001)));
        assert!(!discover.admits(Some(100_000_002)));
    }

    #[test]
    fn stage_unknown_to_the_org_is_an_error() {
        assert_eq!(
            stage_threshold(PipelineStage::Stage(5), &default_stages()),
            Err(SettingsError::UnknownStage(5))
        );
        assert_eq!(
            stage_threshold(PipelineStage::Stage(0), &OrgStages::default()),
            Err(SettingsError::UnknownStage(0))
        );
    }

    #[test]
    fn duplicate_stage_values_are_refused() {
        let stage = |value| StageOption {
            value,
            label: "x".into(),
        };
        assert_eq!(
            OrgStages::new(vec![stage(1), stage(2), stage(1)]),
            Err(OrgStagesError::DuplicateValue(1))
        );
    }
}
