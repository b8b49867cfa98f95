//! The local identities' roles and users in the local endpoint's IAM, tagged as
//! `local/identities.json` says: what PAO reads a caller's tags from (`ListRoleTags`,
//! `ListUserTags`), as it does in AWS. An identity's tags become its role's (or user's) tags;
//! two identities of one role share them.

use crate::sigv4::Identity;
use pao::principal_tags::{Owner, PrincipalTags, owner_of};

/// A role anyone in the account may assume (the local stack never assumes it: it only needs
/// the role to exist with its tags).
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;

/// Creates (or keeps) each identity's role or user and sets its tags.
pub async fn tag_identities(
    sdk: &pao::aws::SdkConfig,
    identities: &[Identity],
) -> Result<(), String> {
    let iam = PrincipalTags::new(sdk);
    for identity in identities {
        let Some((_, owner)) = owner_of(&identity.arn) else {
            continue;
        };
        let (create, tag, param, name) = match &owner {
            Owner::Role(r) => ("CreateRole", "TagRole", "RoleName", r),
            Owner::User(u) => ("CreateUser", "TagUser", "UserName", u),
        };
        let mut params = vec![(param, name.as_str())];
        if matches!(owner, Owner::Role(_)) {
            params.push(("AssumeRolePolicyDocument", TRUST));
        }
        match iam.call(create, &params).await {
            Ok(_) => {}
            Err(e) if e.to_string().contains("EntityAlreadyExists") => {}
            Err(e) => return Err(format!("{create} {name}: {e}")),
        }
        if identity.tags.is_empty() {
            continue;
        }
        let keys: Vec<(String, String)> = identity
            .tags
            .iter()
            .enumerate()
            .flat_map(|(i, (k, v))| {
                [
                    (format!("Tags.member.{}.Key", i + 1), k.clone()),
                    (format!("Tags.member.{}.Value", i + 1), v.clone()),
                ]
            })
            .collect();
        let mut params = vec![(param, name.as_str())];
        params.extend(keys.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        iam.call(tag, &params)
            .await
            .map_err(|e| format!("{tag} {name}: {e}"))?;
    }
    Ok(())
}
