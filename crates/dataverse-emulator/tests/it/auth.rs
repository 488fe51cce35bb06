//! §1 Authentication: tokens, the 401 challenge, not-a-member, impersonation and its privilege.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn client_credentials_token_reaches_who_am_i_as_the_application_user() {
    let h = Harness::start().await;
    let r = h.get("WhoAmI").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert_eq!(body["UserId"], json!(h.emu.info.application_user_id));
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")
    );
    // The token is a signed JWT with the claims Dataverse relies on.
    let payload = h.token.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], json!(h.emu.info.org_url));
    assert_eq!(claims["tid"], json!(h.emu.info.tenant_id));
    assert_eq!(claims["appid"], json!(h.emu.info.client_id));
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
}

#[tokio::test]
async fn missing_or_forged_token_gets_the_bearer_challenge() {
    let h = Harness::start().await;
    let r = h.call_as("", Method::GET, "WhoAmI", None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let challenge = r.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with(&format!(
            "Bearer authorization_uri={}/{}/oauth2/authorize",
            h.emu.info.authority_url, h.emu.info.tenant_id
        )),
        "{challenge}"
    );
    let mut forged = h.token.clone();
    forged.push('x');
    assert_eq!(
        h.call_as(&forged, Method::GET, "WhoAmI", None, &[])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn expired_token_is_refused_after_the_clock_moves_on() {
    let h = Harness::start().await;
    assert_eq!(h.get("WhoAmI").await.status, StatusCode::OK);
    h.admin(Method::POST, "clock", json!({"advance_seconds": 3600}))
        .await;
    assert_eq!(h.get("WhoAmI").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_secret_and_unknown_client_get_entra_errors() {
    let h = Harness::start().await;
    let scope = format!("{}/.default", h.emu.info.org_url);
    let id = h.emu.info.client_id.to_string();
    let r = h
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "nope"),
            ("scope", &scope),
        ])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "invalid_client");
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215:")
    );
    let r = h
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", "7f0e3f4e-0000-0000-0000-000000000000"),
            ("client_secret", "x"),
            ("scope", &scope),
        ])
        .await;
    assert_eq!(r.json()["error"], "unauthorized_client");
    let r = h
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &h.emu.info.client_secret),
            ("scope", "https://other.crm.dynamics.com/.default"),
        ])
        .await;
    assert_eq!(r.json()["error"], "invalid_resource");
}

#[tokio::test]
async fn an_app_without_an_application_user_is_not_a_member() {
    let h = Harness::start().await;
    let app = h
        .admin(
            Method::POST,
            "apps",
            json!({"display_name": "outsider", "application_user": false}),
        )
        .await
        .json();
    let token = h
        .app_token(
            app["client_id"].as_str().unwrap(),
            app["client_secret"].as_str().unwrap(),
        )
        .await;
    let r = h.call_as(&token, Method::GET, "WhoAmI", None, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"]["code"], "0x80072560");
    assert_eq!(
        r.json()["error"]["message"],
        "The user is not a member of the organization."
    );
}

#[tokio::test]
async fn impersonation_sets_createdby_and_needs_the_delegate_privilege() {
    let h = Harness::start().await;
    // A salesperson to act for.
    let rep = uuid::Uuid::new_v4();
    let rep_oid = uuid::Uuid::new_v4();
    {
        let mut org = h.emu.state.org.write();
        let root = org.root_business_unit;
        let role = org.security.role_by_name("Salesperson").unwrap().id;
        org.add_user(
            rep,
            "Ana",
            "Souza",
            "ana.souza@example.test",
            Some(rep_oid),
            None,
            root,
            &[role],
            false,
            chrono::Utc::now(),
        );
        org.store.commit();
    }
    let oid = rep_oid.to_string();
    let r = h
        .call(
            Method::POST,
            "accounts",
            Some(json!({"name": "Impersonated"})),
            &[("CallerObjectId", &oid)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let entity = r.header("odata-entityid").unwrap();
    let id = &entity[entity.rfind('(').unwrap() + 1..entity.len() - 1];
    let row = h
        .get(&format!(
            "accounts({id})?$select=_createdby_value,_createdonbehalfby_value,_ownerid_value"
        ))
        .await
        .json();
    assert_eq!(row["_createdby_value"], json!(rep));
    assert_eq!(row["_ownerid_value"], json!(rep));
    assert_eq!(
        row["_createdonbehalfby_value"],
        json!(h.emu.info.application_user_id)
    );

    // An app whose role lacks prvActOnBehalfOfAnotherUser gets Dataverse's 403.
    h.admin(Method::POST, "roles", json!({"name": "Reader", "privileges": {"prvReadAccount": "Global", "prvCreateAccount": "Global"}})).await;
    let app = h
        .admin(
            Method::POST,
            "apps",
            json!({"display_name": "reader", "roles": ["Reader"]}),
        )
        .await
        .json();
    let token = h
        .app_token(
            app["client_id"].as_str().unwrap(),
            app["client_secret"].as_str().unwrap(),
        )
        .await;
    let r = h
        .call_as(
            &token,
            Method::POST,
            "accounts",
            Some(json!({"name": "x"})),
            &[("CallerObjectId", &oid)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"]["code"], "0x80040220");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is missing prvActOnBehalfOfAnotherUser privilege")
    );
}

#[tokio::test]
async fn a_missing_privilege_gives_the_principal_user_message() {
    let h = Harness::start().await;
    h.admin(
        Method::POST,
        "roles",
        json!({"name": "Accounts only", "privileges": {"prvReadAccount": "Global"}}),
    )
    .await;
    let app = h
        .admin(
            Method::POST,
            "apps",
            json!({"display_name": "narrow", "roles": ["Accounts only"]}),
        )
        .await
        .json();
    let token = h
        .app_token(
            app["client_id"].as_str().unwrap(),
            app["client_secret"].as_str().unwrap(),
        )
        .await;
    assert_eq!(
        h.call_as(&token, Method::GET, "accounts?$select=name", None, &[])
            .await
            .status,
        StatusCode::OK
    );
    let r = h
        .call_as(&token, Method::GET, "contacts?$select=fullname", None, &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("Principal user (Id="), "{message}");
    assert!(
        message.contains("is missing prvReadContact privilege"),
        "{message}"
    );
    assert!(
        message.contains("on OTC=2 for entity 'contact'"),
        "{message}"
    );
    // Removing a privilege between two calls takes effect at once.
    h.admin(
        Method::DELETE,
        "roles/Accounts only/privileges/prvReadAccount",
        json!({}),
    )
    .await;
    assert_eq!(
        h.call_as(&token, Method::GET, "accounts?$select=name", None, &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn organization_functions_report_version_and_sandbox_type() {
    let h = Harness::start().await;
    let v = h.get("RetrieveVersion").await.json();
    assert!(v["Version"].as_str().unwrap().starts_with("9.2."));
    let path = "RetrieveCurrentOrganization(AccessType=@p)?@p=Microsoft.Dynamics.CRM.EndpointAccessType'Default'";
    assert_eq!(
        h.get(path).await.json()["Detail"]["OrganizationType"],
        "Customer"
    );
    h.admin(
        Method::PUT,
        "organization",
        json!({"organization_type": "CustomerTest"}),
    )
    .await;
    assert_eq!(
        h.get(path).await.json()["Detail"]["OrganizationType"],
        "CustomerTest"
    );
    let who = h.get("WhoAmI").await.json();
    let user = who["UserId"].as_str().unwrap();
    let p = h.get(&format!("systemusers({user})/Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeName(PrivilegeName='prvReadAccount')")).await.json();
    assert_eq!(p["RolePrivileges"][0]["Depth"], "Global");
    assert_eq!(p["RolePrivileges"][0]["PrivilegeName"], "prvReadAccount");
}
