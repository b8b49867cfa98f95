//! The stack's KMS key for typed secrets, as template.yaml's `SecretsKey` and its alias.

use super::ProvisionError;

/// The stack's KMS key for typed secrets (`SecretsKey` in template.yaml: symmetric, rotated
/// yearly) under `alias`, unless the alias exists.
pub async fn create_secrets_key(
    sdk: &pao::aws::SdkConfig,
    alias: &str,
) -> Result<(), ProvisionError> {
    let kms = pao::kms::Kms::new(sdk, "");
    let failed = |e: pao::kms::KmsError| ProvisionError::Aws(format!("KMS key {alias}: {e}"));
    if kms
        .call("DescribeKey", serde_json::json!({"KeyId": alias}))
        .await
        .is_ok()
    {
        return Ok(());
    }
    let key = kms
        .call(
            "CreateKey",
            serde_json::json!({"Description": format!("PAO typed secrets ({alias})"),
                               "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}),
        )
        .await
        .map_err(failed)?;
    let id = key["KeyMetadata"]["KeyId"]
        .as_str()
        .ok_or_else(|| ProvisionError::Aws(format!("KMS key {alias}: CreateKey gave no key id")))?
        .to_string();
    kms.call("EnableKeyRotation", serde_json::json!({"KeyId": id}))
        .await
        .map_err(failed)?;
    kms.call(
        "CreateAlias",
        serde_json::json!({"AliasName": alias, "TargetKeyId": id}),
    )
    .await
    .map_err(failed)?;
    Ok(())
}

/// Removes the alias and schedules the key's deletion (KMS's shortest wait, 7 days).
pub async fn delete_secrets_key(sdk: &pao::aws::SdkConfig, alias: &str) {
    let kms = pao::kms::Kms::new(sdk, "");
    let Ok(key) = kms
        .call("DescribeKey", serde_json::json!({"KeyId": alias}))
        .await
    else {
        return;
    };
    let _ = kms
        .call("DeleteAlias", serde_json::json!({"AliasName": alias}))
        .await;
    if let Some(id) = key["KeyMetadata"]["KeyId"].as_str() {
        let _ = kms
            .call(
                "ScheduleKeyDeletion",
                serde_json::json!({"KeyId": id, "PendingWindowInDays": 7}),
            )
            .await;
    }
}
