//! Issue 27 groundwork: a caller's tags as IAM has them (its role's or its user's), read over
//! IAM's Query protocol from the local endpoint (moto's IAM), as PAO will read them to know
//! who may approve or request by tag.

use pao::principal_tags::PrincipalTags;
use pao_system_tests::TestEnv;

/// The account moto answers for (from an ARN it made).
fn account_in(xml: &str) -> String {
    let arn = xml
        .split("<Arn>")
        .nth(1)
        .and_then(|r| r.split("</Arn>").next())
        .expect("an ARN in the answer");
    pao::principal::account_of(arn)
        .expect("an IAM ARN")
        .to_string()
}

#[tokio::test]
async fn a_sessions_tags_are_its_roles_and_a_users_its_own() {
    let env = TestEnv::new().await;
    let admin = PrincipalTags::new(&env.sdk);
    let role = format!("DBA-{}", env.table);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
    let made = admin
        .call(
            "CreateRole",
            &[("RoleName", &role), ("AssumeRolePolicyDocument", trust)],
        )
        .await
        .expect("role made");
    let account = account_in(&made);
    admin
        .call(
            "TagRole",
            &[
                ("RoleName", &role),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "dba"),
                ("Tags.member.2.Key", "cost-center"),
                ("Tags.member.2.Value", "R&D <42>"),
            ],
        )
        .await
        .expect("role tagged");
    let user = format!("omar-{}", env.table);
    admin
        .call(
            "CreateUser",
            &[
                ("UserName", &user),
                ("Path", "/teams/data/"),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "data"),
            ],
        )
        .await
        .expect("user made");

    let tags = PrincipalTags::new(&env.sdk);
    let session = format!("arn:aws:sts::{account}:assumed-role/{role}/dana@example.com");
    let got = tags.of(&session, Some(&account)).await.expect("role tags");
    assert_eq!(got.get("team").map(String::as_str), Some("dba"));
    assert_eq!(got.get("cost-center").map(String::as_str), Some("R&D <42>"));
    let got = tags
        .of(
            &format!("arn:aws:iam::{account}:user/teams/data/{user}"),
            Some(&account),
        )
        .await
        .expect("user tags");
    assert_eq!(got.get("team").map(String::as_str), Some("data"));

    // Another account's principal: IAM here cannot say, so no tags (never an error).
    let foreign = tags
        .of(
            &format!("arn:aws:sts::999999999999:assumed-role/{role}/x"),
            Some(&account),
        )
        .await
        .expect("no call");
    assert!(foreign.is_empty());
    // A role IAM does not know (deleted since its session began) has no tags: an empty set,
    // not a failure that would answer 503 to a caller whom an ARN pattern admits anyway.
    let missing = tags
        .of(
            &format!("arn:aws:sts::{account}:assumed-role/Nobody-{}/x", env.table),
            Some(&account),
        )
        .await
        .expect("an unknown role has no tags");
    assert!(missing.is_empty(), "{missing:?}");

    for (action, param, name) in [
        ("DeleteRole", "RoleName", &role),
        ("DeleteUser", "UserName", &user),
    ] {
        if action == "DeleteRole" {
            let _ = admin
                .call(
                    "UntagRole",
                    &[
                        ("RoleName", name),
                        ("TagKeys.member.1", "team"),
                        ("TagKeys.member.2", "cost-center"),
                    ],
                )
                .await;
        } else {
            let _ = admin
                .call(
                    "UntagUser",
                    &[("UserName", name), ("TagKeys.member.1", "team")],
                )
                .await;
        }
        admin.call(action, &[(param, name)]).await.expect("removed");
    }
    env.cleanup().await;
}
