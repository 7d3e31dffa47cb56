//! How a conversation Durable Object gets its workspace's configuration: asks the
//! `Workspace` object (binding `WORKSPACE_DO`) with the version it holds, and gets either
//! "unchanged" (304, cheap: no decryption on the other side) or the new version.

use edgedesk_core::ids::WorkspaceId;
use edgedesk_core::workflow::config::{ConfigErrors, WorkspaceConfig};
use serde::Deserialize;
use worker::{Env, Headers, Method, Request, RequestInit};

use crate::request::FORWARDED_HEADER;
use crate::workspace::request::{ForwardedWorkspace, CONFIG_VERSION_HEADER};

/// The Durable Object binding of the `Workspace` class (wrangler.toml).
pub const WORKSPACE_BINDING: &str = "WORKSPACE_DO";

#[derive(Debug, thiserror::Error)]
pub enum ConfigFetchError {
    #[error("workspace id: {0}")]
    BadWorkspace(String),
    #[error("the workspace object could not be reached: {0}")]
    Unreachable(String),
    #[error("the workspace object answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("the workspace object's answer is not a configuration: {0}")]
    BadAnswer(String),
    /// Stored by an older release whose checks were laxer; the admin must PUT it again.
    #[error(
        "workspace configuration version {version} does not pass this release's checks: {errors}"
    )]
    Invalid { version: u64, errors: ConfigErrors },
}

impl From<worker::Error> for ConfigFetchError {
    fn from(e: worker::Error) -> Self {
        ConfigFetchError::Unreachable(e.to_string())
    }
}

#[derive(Deserialize)]
struct Answer {
    version: u64,
    config: serde_json::Value,
}

/// The workspace's configuration if it is not `known_version` any more: `Ok(None)` means
/// unchanged. A workspace never configured is version 0 with `WorkspaceConfig::default()`.
pub async fn fetch_config(
    env: &Env,
    workspace: &str,
    known_version: Option<u64>,
) -> Result<Option<(u64, WorkspaceConfig)>, ConfigFetchError> {
    let workspace =
        WorkspaceId::new(workspace).map_err(|e| ConfigFetchError::BadWorkspace(e.to_string()))?;
    let headers = Headers::new();
    let forwarded = ForwardedWorkspace { workspace: workspace.clone(), admin: None };
    headers.set(FORWARDED_HEADER, &forwarded.to_header())?;
    if let Some(v) = known_version {
        headers.set(CONFIG_VERSION_HEADER, &v.to_string())?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let request = Request::new_with_init("https://workspace.internal/config", &init)?;
    let stub =
        env.durable_object(WORKSPACE_BINDING)?.id_from_name(workspace.as_str())?.get_stub()?;
    let mut response = stub.fetch_with_request(request).await?;
    match response.status_code() {
        304 => Ok(None),
        200 => {
            let answer: Answer = serde_json::from_slice(&response.bytes().await?)
                .map_err(|e| ConfigFetchError::BadAnswer(e.to_string()))?;
            let config = WorkspaceConfig::parse(&answer.config.to_string())
                .map_err(|errors| ConfigFetchError::Invalid { version: answer.version, errors })?;
            Ok(Some((answer.version, config)))
        }
        status => {
            let body = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{} bytes of body", body.len()));
            Err(ConfigFetchError::Refused { status, message })
        }
    }
}
