//! The rep's workspace in the browser: saved leads with their source, reason and In CRM link; the
//! person page with notes, InMails and threads, Copy to CRM in its three forms and the writeback
//! state; correcting a match; Unassigned Activities with create and link.

use std::collections::BTreeSet;

use domain::activity::{ActivityKind, CopyToCrm};
use domain::crm::{CrmContact, CrmLead, CrmOpportunity, CrmOwner, CrmPersonRef, OpportunityState};
use domain::ids::{
    ActivityId, CrmActivityId, CrmContactId, CrmLeadId, CrmOpportunityId, CrmUserId, PersonId,
    TenantId,
};
use domain::import::ImportDiff;
use domain::matches::{Confidence, MatchOrigin, PersonMatch};
use domain::saved::{CrmReason, SavedItem, SavedKey, SavedTarget};
use domain::timeline::{WritebackEvent, WritebackState};
use serde_json::json;
use store::crm::Mirrored;
use store::directory::NewPerson;
use uuid::Uuid;

use crate::harness::{TestApp, TestUser, both};
use crate::ui::engine::{CREATED_CONTACT, Scripted};
use crate::ui::{Browser, connect_in_store};

const CONTACT: u128 = 0x5a;
const LEAD: u128 = 0x1ead;
const OPPORTUNITY: u128 = 0x0990;

/// Zoë (saved by the CRM import for an open opportunity, matched to a contact), Ana (in the
/// directory only; a CRM lead looks like her) and Li (no CRM record at all).
struct Workspace {
    tenant: TenantId,
    rep: TestUser,
    zoe: PersonId,
    ana: PersonId,
    li: PersonId,
}

async fn workspace(app: &TestApp) -> Workspace {
    let tenant = app.tenant("Contoso", 4).await;
    let rep = app.rep(tenant, "rey@contoso.com").await;
    let seat = rep.seat.unwrap();
    let mut t = app.store.tenant(tenant);
    let ids = t
        .upsert_people(&[
            NewPerson {
                external_id: Some("p1".into()),
                full_name: "Zoë Ødegård".into(),
                title: Some("Buyer".into()),
                company_name: Some("Contoso Ltd".into()),
                email: Some("zoe@contoso.com".into()),
                ..NewPerson::default()
            },
            NewPerson {
                external_id: Some("p2".into()),
                full_name: "Ana Silva".into(),
                ..NewPerson::default()
            },
            NewPerson {
                external_id: Some("p3".into()),
                full_name: "Li Lei".into(),
                title: Some("CTO".into()),
                ..NewPerson::default()
            },
        ])
        .await
        .unwrap();
    let connection = connect_in_store(app, tenant).await;
    t.upsert_crm_rows(
        connection,
        &[Mirrored {
            row: CrmContact {
                id: CrmContactId(Uuid::from_u128(CONTACT)),
                full_name: "Zoe Odegard".into(),
                job_title: Some("Buyer".into()),
                email: Some("zoe@contoso.com".into()),
                phone: None,
                location: None,
                account: None,
            },
            raw: json!({}),
        }],
    )
    .await
    .unwrap();
    t.upsert_crm_rows(
        connection,
        &[Mirrored {
            row: CrmLead {
                id: CrmLeadId(Uuid::from_u128(LEAD)),
                full_name: "Ana S. Silva".into(),
                company_name: Some("Fabrikam".into()),
                job_title: None,
                email: Some("ana@fabrikam.example".into()),
                phone: None,
            },
            raw: json!({}),
        }],
    )
    .await
    .unwrap();
    let opportunity = CrmOpportunityId(Uuid::from_u128(OPPORTUNITY));
    t.upsert_crm_rows(
        connection,
        &[Mirrored {
            row: CrmOpportunity {
                id: opportunity,
                name: "Contoso renewal".into(),
                state: OpportunityState::Open,
                owner: CrmOwner::User(CrmUserId(Uuid::from_u128(1))),
                sales_stage: Some(2),
                account: None,
                contacts: vec![CrmContactId(Uuid::from_u128(CONTACT))],
                currency: None,
                money: Default::default(),
            },
            raw: json!({}),
        }],
    )
    .await
    .unwrap();
    let reason = CrmReason {
        opportunity,
        stage: Some(2),
    };
    t.apply_import_diff(&ImportDiff {
        person_matches: vec![PersonMatch {
            person: ids[0],
            crm: CrmPersonRef::Contact(CrmContactId(Uuid::from_u128(CONTACT))),
            confidence: Confidence::CERTAIN,
            origin: MatchOrigin::Exact,
            explanation: "Same email address.".into(),
        }],
        save: vec![SavedItem {
            key: SavedKey {
                seat,
                target: SavedTarget::Lead(ids[0]),
            },
            by_hand: false,
            crm_reasons: BTreeSet::from([reason]),
            tags: BTreeSet::new(),
        }],
        ..ImportDiff::default()
    })
    .await
    .unwrap();
    Workspace {
        tenant,
        rep,
        zoe: ids[0],
        ana: ids[1],
        li: ids[2],
    }
}

both!(leads_person_page_copy_to_crm_and_match_correction);

async fn leads_person_page_copy_to_crm_and_match_correction(app: TestApp) {
    let w = workspace(&app).await;
    let mut browser = Browser::new(&app);
    let done = browser.sign_in("rey@contoso.com").await;
    assert_eq!(done.location.as_deref(), Some("/leads"));

    // Saved leads: source, the opportunity behind it, In CRM linking to the contact.
    let leads = browser.get("/leads").await;
    assert_eq!(leads.status, 200, "{}", leads.body);
    leads.assert_labelled();
    assert!(leads.contains("Zoë Ødegård"));
    assert!(leads.contains("From CRM"));
    assert!(leads.contains("Open opportunity:"), "{}", leads.body);
    assert!(leads.contains(&format!(
        "https://contoso.crm4.dynamics.com/main.aspx?pagetype=entityrecord&etn=opportunity&id={}",
        Uuid::from_u128(OPPORTUNITY)
    )));
    assert!(leads.contains("Contoso renewal"));
    assert!(leads.contains(&format!(
        "etn=contact&id={}\" target=\"_blank\" rel=\"noopener\" title=\"100 % sure · Same email address.\">In CRM · Contact</a>",
        Uuid::from_u128(CONTACT)
    )), "{}", leads.body);
    assert_eq!(browser.get("/accounts").await.status, 200);

    // The directory finds the others; a search that is too long is explained.
    let found = browser.get("/people?q=ana").await;
    found.assert_labelled();
    assert!(found.contains("Ana Silva") && !found.contains("Li Lei"));
    let long = browser.get(&format!("/people?q={}", "a".repeat(201))).await;
    assert!(long.contains("Search with 1 to 200 characters."));

    // Li: not in the CRM; save him as a lead.
    let li = format!("/people/{}", w.li);
    let page = browser.get(&li).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_labelled();
    assert!(page.contains("No CRM contact or lead matches this person."));
    let saved = browser.post(&format!("{li}/save"), &page, &[]).await;
    assert_eq!(saved.location, Some(format!("{li}?notice=lead_saved")));
    let page = browser.get(&format!("{li}?notice=lead_saved")).await;
    assert!(page.contains("Saved as your lead."));
    assert!(page.contains("Remove from my leads"));

    // A note: empty is refused and explained; a real one starts its writeback.
    let empty = browser
        .post(
            &format!("{li}/notes"),
            &page,
            &[("text", "   "), ("copy_to_crm", "yes")],
        )
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.contains("Write something first."));
    assert!(empty.contains("aria-describedby=\"note-error\""));
    let note = browser
        .post(
            &format!("{li}/notes"),
            &page,
            &[
                ("text", "Met at the <fair> & liked it"),
                ("copy_to_crm", "yes"),
            ],
        )
        .await;
    assert_eq!(note.location, Some(format!("{li}?notice=note_saved")));
    let page = browser.get(&li).await;
    assert!(page.contains("Met at the <fair> & liked it"));
    assert!(
        !page.body.contains("<fair>"),
        "what a rep writes is escaped"
    );
    assert!(page.contains("Waiting to be copied to the CRM"));
    assert!(page.contains("✓ Copy to CRM"));
    let mut t = app.store.tenant(w.tenant);
    let activities = t.seat_activities(w.rep.seat.unwrap(), 10).await.unwrap();
    assert_eq!(activities.len(), 1);
    let note_id = activities[0].id;
    assert_eq!(activities[0].kind, ActivityKind::Note);
    assert_eq!(
        t.writeback_record(note_id).await.unwrap().unwrap().state,
        WritebackState::Pending
    );

    // An InMail thread (Copy thread to CRM), and a reply that follows the thread.
    let sent = browser
        .post(
            &format!("{li}/messages"),
            &page,
            &[
                ("kind", "inmail"),
                ("subject", "Intro"),
                ("body", "Hello Li"),
                ("copy_to_crm", "yes"),
            ],
        )
        .await;
    assert_eq!(sent.location, Some(format!("{li}?notice=message_saved")));
    let page = browser.get(&li).await;
    assert!(page.contains("<h3>Intro</h3>"));
    assert!(page.contains("✓ Copy thread to CRM"));
    assert!(page.contains("✓ Copy message to CRM"));
    let thread = page.hidden("thread_id").unwrap();
    let empty_reply = browser
        .post(
            &format!("{li}/messages"),
            &page,
            &[
                ("thread_id", &thread),
                ("body", ""),
                ("copy_offered", "yes"),
                ("copy_to_crm", "yes"),
            ],
        )
        .await;
    assert_eq!(empty_reply.status, 422);
    assert!(empty_reply.contains("Write something first."));
    let reply = browser
        .post(
            &format!("{li}/messages"),
            &page,
            &[
                ("thread_id", &thread),
                ("body", "Any news?"),
                ("copy_offered", "yes"),
                ("copy_to_crm", "yes"),
            ],
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    let all = t.seat_activities(w.rep.seat.unwrap(), 10).await.unwrap();
    let reply = all.iter().find(|a| a.body == "Any news?").unwrap();
    assert_eq!(
        reply.copy_to_crm,
        CopyToCrm::AsThread,
        "left as offered, it follows its thread"
    );

    // Untick Copy to CRM on the note: no longer copied, and the page offers it again.
    let page = browser.get(&li).await;
    let off = browser
        .post(
            &format!("/activities/{note_id}/copy"),
            &page,
            &[("copy", "no"), ("back", "person")],
        )
        .await;
    assert_eq!(off.location, Some(format!("{li}?notice=copy_off")));
    let page = browser.get(&format!("{li}?notice=copy_off")).await;
    assert!(page.contains("It is no longer copied to your CRM"));
    assert!(page.contains("Not copied"));

    // Another rep cannot touch it.
    let other = app.rep(w.tenant, "sam@contoso.com").await;
    let mut sam = Browser::new(&app);
    sam.sign_in("sam@contoso.com").await;
    let token = super::signin::session_token(&sam.cookies["lb_session"]);
    let refused = sam
        .post_raw(
            &format!("/activities/{note_id}/copy"),
            &[("csrf", &token), ("copy", "yes")],
        )
        .await;
    assert_eq!(refused.status, 404);
    assert!(other.seat.is_some());

    // Correcting a match: Ana is the CRM lead "Ana S. Silva"; then "Not this person".
    let ana = format!("/people/{}", w.ana);
    let page = browser.get(&format!("{ana}?q=silva")).await;
    page.assert_labelled();
    assert!(page.contains("Ana S. Silva"));
    let nothing = browser.post(&format!("{ana}/match"), &page, &[]).await;
    assert_eq!(nothing.status, 422);
    assert!(nothing.contains("Choose one of the CRM records found."));
    let lead = format!("lead:{}", Uuid::from_u128(LEAD));
    let pinned = browser
        .post(&format!("{ana}/match"), &page, &[("record", &lead)])
        .await;
    assert_eq!(pinned.location, Some(format!("{ana}?notice=match_set")));
    let page = browser.get(&ana).await;
    assert!(page.contains("In CRM · Lead"));
    assert!(page.contains("set by a rep"));
    let rejected = browser
        .post(&format!("{ana}/match/reject"), &page, &[])
        .await;
    assert_eq!(
        rejected.location,
        Some(format!("{ana}?notice=match_rejected"))
    );
    let page = browser.get(&ana).await;
    assert!(page.contains("CRM records you said this person is not: 1"));
    assert!(page.contains("No CRM contact or lead matches this person."));

    // Zoë's page shows her contact with how sure the match is.
    let page = browser.get(&format!("/people/{}", w.zoe)).await;
    assert!(page.contains("100 % sure · Same email address."));
    assert_eq!(browser.get("/people/not-an-id").await.status, 404);
    assert_eq!(
        browser
            .get(&format!("/people/{}", Uuid::from_u128(99)))
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unassigned_activities_are_resolved_by_creating_or_linking() {
    let (app, engine) = Scripted::app().await;
    let w = workspace(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("rey@contoso.com").await;
    let empty = browser.get("/unassigned").await;
    assert!(empty.contains("Nothing is unassigned."));

    // Two InMails to Li, written open by the engine because Li matches nothing.
    let li = format!("/people/{}", w.li);
    let page = browser.get(&li).await;
    for body in ["First hello", "Second hello"] {
        let sent = browser
            .post(
                &format!("{li}/messages"),
                &page,
                &[
                    ("kind", "inmail"),
                    ("subject", body),
                    ("body", body),
                    ("copy_to_crm", "yes"),
                ],
            )
            .await;
        assert_eq!(sent.status, 303);
    }
    let mut t = app.store.tenant(w.tenant);
    let sent: Vec<ActivityId> = t
        .seat_activities(w.rep.seat.unwrap(), 10)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    for (n, id) in sent.iter().enumerate() {
        t.apply_writeback_event(
            *id,
            &WritebackEvent::Written {
                crm_activity: CrmActivityId(Uuid::from_u128(0xac00 + n as u128)),
                regarding: None,
            },
        )
        .await
        .unwrap();
    }

    let page = browser.get("/unassigned").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_labelled();
    assert!(page.contains("First hello") && page.contains("Second hello"));
    assert!(page.contains("Li Lei"));
    assert!(page.contains("Create contact in CRM"));

    // Create the contact for one.
    let created = browser
        .post(
            &format!("/activities/{}/resolve", sent[0]),
            &page,
            &[("action", "create_contact")],
        )
        .await;
    assert_eq!(
        created.location.as_deref(),
        Some("/unassigned?notice=resolved")
    );
    let record = t.writeback_record(sent[0]).await.unwrap().unwrap();
    assert!(matches!(record.state, WritebackState::Written { .. }));

    // Link the other to an existing record found by name.
    let picker = browser
        .get(&format!("/unassigned?link={}&q=odegard", sent[1]))
        .await;
    picker.assert_labelled();
    assert!(picker.contains("Zoe Odegard"));
    let none = browser
        .post(
            &format!("/activities/{}/resolve", sent[1]),
            &picker,
            &[("action", "link"), ("q", "odegard")],
        )
        .await;
    assert_eq!(none.status, 422);
    assert!(none.contains("Choose one of the CRM records found."));
    let contact = format!("contact:{}", Uuid::from_u128(CONTACT));
    let linked = browser
        .post(
            &format!("/activities/{}/resolve", sent[1]),
            &picker,
            &[("action", "link"), ("record", &contact)],
        )
        .await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    let page = browser.get("/unassigned?notice=resolved").await;
    assert!(page.contains("Nothing is unassigned."));
    let resolved = engine.script.lock().unwrap().resolved.clone();
    assert_eq!(resolved.len(), 2);

    // On Li's page the first InMail now links to the contact the engine created.
    let page = browser.get(&li).await;
    assert!(page.contains(&format!(
        "etn=contact&id={}",
        Uuid::from_u128(CREATED_CONTACT)
    )));
    assert!(page.contains("In the CRM, completed"));
    assert!(page.contains("Resolved from Unassigned Activities"));

    // Resolving what is not unassigned is refused with a readable message.
    let again = browser
        .post(
            &format!("/activities/{}/resolve", sent[0]),
            &page,
            &[("action", "create_lead")],
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(again.contains("This cannot be done in the current state."));
}
