//! Who may see and decide on a request (its owner, or support staff), and who may request a
//! catalog item or bundle (`access.requesters`, issue 27 point 6): the
//! caller's ARN, and when the rule names tags, the caller's IAM tags (read from IAM once per
//! call, only when an ARN pattern did not already decide). A bundle's rule governs its
//! components: their own `access` is not asked.

use super::App;
use super::envelope::ApiError;
use super::input::caller;
use super::routes::Call;
use crate::api::ApiRequest;
use crate::approval::Caller;
use crate::catalog::Document;
use crate::clock::Now;
use crate::record::{Principal, RequestDetail, RequestId};
use crate::store::Read;
use std::collections::BTreeMap;

/// Whether `caller` is support staff: listed by ARN, or carrying the support tag on its role
/// or user in IAM (a tag that cannot be read admits no one: logged, never an error).
pub(super) async fn is_support(app: &App, caller: &str, home_account: Option<&str>) -> bool {
    if app.support.listed(caller) {
        return true;
    }
    if !app.support.by_tag() {
        return false;
    }
    match app.tags.of(caller, home_account).await {
        Ok(tags) => {
            let tags: Vec<(String, String)> = tags.into_iter().collect();
            app.support.admit(caller, &tags)
        }
        Err(e) => {
            tracing::warn!(error = %e, "support tag unreadable; the caller is not admitted as support");
            false
        }
    }
}

/// The IAM tag that names a principal's team.
pub(super) const TEAM_TAG: &str = "team";

/// The caller as `access` rules see it.
pub(super) struct Requester<'a> {
    app: &'a App,
    arn: String,
    home_account: Option<String>,
    tags: tokio::sync::OnceCell<BTreeMap<String, String>>,
}

impl<'a> Requester<'a> {
    pub(super) fn of(app: &'a App, req: &ApiRequest) -> Result<Self, ApiError> {
        let caller = super::input::caller(req)?;
        Ok(Self {
            app,
            arn: caller.arn,
            home_account: req.home_account.clone(),
            tags: tokio::sync::OnceCell::new(),
        })
    }

    /// None when the caller may request `document`; else the rule that refuses it, in words.
    pub(super) async fn refused(&self, document: &Document) -> Result<Option<String>, ApiError> {
        let Some(group) = document.requesters() else {
            return Ok(None);
        };
        let by_arn = Caller {
            arn: self.arn.clone(),
            ..Caller::default()
        };
        if group.admits(&by_arn) {
            return Ok(None);
        }
        let rule = format!("access.requesters admits {}", group.describe());
        if group.tags.is_empty() {
            return Ok(Some(rule));
        }
        let tags = self.tags().await?;
        let with_tags = Caller {
            arn: self.arn.clone(),
            id: None,
            tags: tags.clone(),
        };
        Ok((!group.admits(&with_tags)).then_some(rule))
    }
}

impl Requester<'_> {
    /// The caller as approval rules see it: its ARN, unique id and, when `with_tags`, its IAM
    /// tags (read once per call; unreadable tags are a 503, never an empty set that would
    /// quietly refuse).
    pub(super) async fn as_caller(
        &self,
        id: Option<String>,
        with_tags: bool,
    ) -> Result<Caller, ApiError> {
        let tags = if with_tags {
            self.tags().await?.clone()
        } else {
            BTreeMap::new()
        };
        Ok(Caller {
            arn: self.arn.clone(),
            id,
            tags,
        })
    }

    /// The caller's `team` tag, for a request it submits (`GET /requests?scope=team`). Tags
    /// that cannot be read leave the request without a team (logged): a submission does not
    /// wait on IAM for a listing.
    pub(super) async fn team(&self) -> Option<String> {
        match self.team_now().await {
            Ok(team) => team,
            Err(e) => {
                tracing::warn!(error = %e, "the caller's team tag could not be read; the request is listed to no team");
                None
            }
        }
    }

    /// The caller's `team` tag now; tags that cannot be read are a 503.
    pub(super) async fn team_now(&self) -> Result<Option<String>, ApiError> {
        Ok(self
            .tags()
            .await?
            .get(TEAM_TAG)
            .filter(|t| !t.is_empty())
            .cloned())
    }

    async fn tags(&self) -> Result<&BTreeMap<String, String>, ApiError> {
        self.tags
            .get_or_try_init(|| async {
                self.app
                    .tags
                    .of(&self.arn, self.home_account.as_deref())
                    .await
                    .map_err(|e| {
                        ApiError::Unavailable(format!(
                            "this is decided by IAM tags, and they could not be read: {e}"
                        ))
                    })
            })
            .await
    }
}

/// A request of the caller's (or any request, to support staff); another caller's request
/// is "not found".
pub(super) async fn owned(app: &App, call: &Call<'_>) -> Result<RequestDetail, ApiError> {
    let (id, caller) = (call.param(0), caller(call.req)?);
    let not_found = || ApiError::NotFound(format!("request {id:?} does not exist"));
    if !id.starts_with("req-") || id.len() > 64 {
        return Err(not_found());
    }
    let detail = app
        .store
        .get_request(&RequestId(id.to_string()), &Now::current(), Read::Eventual)
        .await?
        .ok_or_else(not_found)?;
    // Support staff read and decide on every request; to anyone else another's request does
    // not exist.
    if !caller.is(&detail.request.user)
        && !is_support(app, &caller.arn, call.req.home_account.as_deref()).await
    {
        return Err(not_found());
    }
    Ok(detail)
}

/// Who decided, for an audit event: the caller, and the owner beside it when they differ (a
/// support engineer acting on someone's request).
pub(super) fn acting(who: &Principal, d: &RequestDetail) -> String {
    if who.is(&d.request.user) {
        who.arn.clone()
    } else {
        format!(
            "{} (support, for the owner {})",
            who.arn, d.request.user.arn
        )
    }
}
