//! How a conversation Durable Object gets its workspace's configuration: asks the
//! `Workspace` object (binding `WORKSPACE_DO`) with the version it holds, and gets either
//! "unchanged" (304, cheap: no decryption on the other side) or the new version.

use edgedesk_core::ids::WorkspaceId;
use edgedesk_core::workflow::config::{ConfigErrors, WorkspaceConfig};
use serde::Deserialize;
use worker::{Env, Method};

use crate::object_call::{Call, WORKSPACE};
use crate::workspace::request::{ForwardedWorkspace, CONFIG_VERSION_HEADER};

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
    let forwarded = ForwardedWorkspace { workspace: workspace.clone(), admin: None };
    let known: Vec<(&str, String)> =
        known_version.map(|v| (CONFIG_VERSION_HEADER, v.to_string())).into_iter().collect();
    let response = Call {
        to: WORKSPACE,
        name: workspace.as_str(),
        method: Method::Get,
        path: "config",
        forwarded: forwarded.to_header(),
        headers: &known,
        body: None,
    }
    .send(env)
    .await
    .map_err(|e| ConfigFetchError::Unreachable(e.to_string()))?;
    match response.status {
        304 => Ok(None),
        200 => {
            let answer: Answer = serde_json::from_slice(&response.body)
                .map_err(|e| ConfigFetchError::BadAnswer(e.to_string()))?;
            let config = WorkspaceConfig::parse(&answer.config.to_string())
                .map_err(|errors| ConfigFetchError::Invalid { version: answer.version, errors })?;
            Ok(Some((answer.version, config)))
        }
        status => {
            let message = response.json()["message"]
                .as_str()
                .map_or_else(|| format!("{} bytes of body", response.body.len()), str::to_owned);
            Err(ConfigFetchError::Refused { status, message })
        }
    }
}
