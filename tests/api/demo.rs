//! `convene demo`: a fictional alliance that tells a story (every membership status, people
//! with affiliations and consents), the same for the same seed, and a batched scale mode.

use convene::demo::{DemoOptions, fill};

use crate::db_test;
use crate::helpers::TestApp;

fn names(organisations: &[serde_json::Value]) -> Vec<String> {
    organisations
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn filled(app: &TestApp, options: DemoOptions) -> convene::demo::DemoSummary {
    let mut conn = app.state.db.connection().unwrap();
    fill(&mut conn, options).unwrap()
}

db_test!(
    async fn the_demo_alliance_has_every_standing_people_and_consents(app) {
        let summary = filled(&app, DemoOptions::default()).await;
        assert_eq!((summary.organisations, summary.contacts), (80, 240));
        for status in ["pending", "current", "grace", "lapsed", "withdrawn"] {
            let found = app.list_all(&format!("membership_status={status}")).await;
            assert!(!found.is_empty(), "no {status} member in the demo");
        }
        let prospects = app.list_all("").await.iter().filter(|o| o["membership"].is_null()).count();
        assert!(prospects > 0, "no prospects");
        let contacts = app.get("/api/v1/contacts?consent=newsletter&limit=500").await.json();
        assert!(contacts["data"].as_array().unwrap().len() > 50);
        let someone = &contacts["data"][0];
        assert!(someone["affiliations"].as_array().unwrap().iter().any(|a| a["current"] == true));
        assert!(someone["email"].as_str().unwrap().ends_with("@people.example.org"));

        // The convenings: groups in every status with chairs, and consultations in every
        // status with invitations (some through a group) and responses.
        assert_eq!((summary.groups, summary.consultations), (6, 6));
        let groups = app.get("/api/v1/expert-groups?limit=500").await.json()["data"].clone();
        for status in ["forming", "active", "closed"] {
            assert!(groups.as_array().unwrap().iter().any(|g| g["status"] == status), "no {status} group");
        }
        let research = groups.as_array().unwrap().iter().find(|g| g["name"] == "Research Advisory Group").unwrap();
        let members = app.get(&format!("/api/v1/expert-groups/{}/members", research["id"].as_str().unwrap())).await.json();
        assert!(members["data"].as_array().unwrap().iter().any(|m| m["role"] == "chair"));
        let closed = groups.as_array().unwrap().iter().find(|g| g["status"] == "closed").unwrap();
        assert_eq!(closed["current_member_count"], 0, "a closed group's members have left");
        let consultations = app.get("/api/v1/consultations?limit=500").await.json()["data"].clone();
        for status in ["draft", "open", "closed", "published"] {
            assert!(consultations.as_array().unwrap().iter().any(|c| c["status"] == status), "no {status} consultation");
        }
        let roundtable = consultations.as_array().unwrap().iter().find(|c| c["kind"] == "roundtable").unwrap();
        let figures = app.get(&format!("/api/v1/consultations/{}/participation", roundtable["id"].as_str().unwrap())).await.json();
        assert!(figures["invited"]["total"].as_i64().unwrap() > 0 && figures["responded"]["total"].as_i64().unwrap() > 0, "{figures}");
        assert!(figures["attended"].as_i64().unwrap() > 0, "{figures}");
        let invitations = app.get(&format!("/api/v1/consultations/{}/invitations?limit=500", roundtable["id"].as_str().unwrap())).await.json();
        assert!(invitations["data"].as_array().unwrap().iter().any(|i| i["via_group_id"].is_string()));

        // A second run refuses to mix with real data.
        let mut conn = app.state.db.connection().unwrap();
        assert!(fill(&mut conn, DemoOptions::default()).is_err());
    }
);

db_test!(
    async fn the_same_seed_gives_the_same_alliance(app) {
        filled(&app, DemoOptions { seed: 7, organisations: 12, contacts: 5 }).await;
        let first = names(&app.list_all("").await);
        let other = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
        filled(&other, DemoOptions { seed: 7, organisations: 12, contacts: 5 }).await;
        assert_eq!(first, names(&other.list_all("").await));
        let third = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
        filled(&third, DemoOptions { seed: 8, organisations: 12, contacts: 5 }).await;
        assert_ne!(first, names(&third.list_all("").await));
    }
);

db_test!(
    async fn the_scale_mode_writes_in_batches_with_the_same_shapes(app) {
        let summary = filled(&app, DemoOptions { seed: 1, organisations: 2_500, contacts: 3_000 }).await;
        assert_eq!((summary.organisations, summary.contacts), (2_500, 3_000));
        assert_eq!((summary.groups, summary.consultations), (6, 6));
        let total = app.get("/api/v1/organisations?include_total=true&limit=1").await.json()["total"].clone();
        assert_eq!(total, 2_500);
        let current = app.get("/api/v1/organisations?membership_status=current&include_total=true&limit=1").await.json();
        assert!(current["total"].as_i64().unwrap() > 1_000, "{current}");
        let page = app.get("/api/v1/contacts?consent=newsletter&limit=3").await.json();
        assert_eq!(page["data"].as_array().unwrap().len(), 3);
        assert!(page["data"][0]["affiliations"][0]["is_primary"] == true);
    }
);
