//! The `Workspace` Durable Object: one per workspace (named by its id), holding the
//! workspace's support configuration, versioned (PROTOCOL.md §9).
//!
//! Reached only through the `WORKSPACE_DO` binding: by the front Worker for an admin's `PUT`
//! and `GET` (after it checked the token), and by conversation objects asking for the
//! current configuration ([`crate::workspace::client::fetch_config`]). Checking a new
//! configuration happens here, not in the front Worker, because a webhook secret sent back
//! redacted is filled in from the stored configuration. A `PUT` reads, checks and stores
//! without an `await` in between, so concurrent `PUT`s are serialized by the object and
//! `If-Match` is exact.
//!
//! It also holds the workspace's agent accounts and sign-in sessions ([`super::accounts`]).

use std::cell::{RefCell, RefMut};

use edgedesk_core::accounts::RateWindow;
use edgedesk_core::at_rest::MASTER_KEYS_VAR;
use edgedesk_core::ids::ParticipantId;
use edgedesk_core::workflow::config::{WorkspaceConfig, REDACTED_SECRET};
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, ResponseBuilder, SqlStorage,
    State,
};

use crate::http;
use crate::request::{Refusal, FORWARDED_HEADER};
use crate::workspace::request::{
    self as wr, ForwardedWorkspace, CONFIG_VERSION_HEADER, IF_MATCH_VERSION_HEADER,
};
use crate::workspace::store::{ConfigTable, StoreError, StoredConfig};

#[durable_object]
pub struct Workspace {
    state: State,
    env: Env,
    /// Password attempts of the last minute, all accounts together.
    sign_in_window: RefCell<RateWindow>,
}

impl Workspace {
    pub(super) fn master_keys(&self) -> Option<String> {
        self.env.secret(MASTER_KEYS_VAR).ok().map(|k| k.to_string())
    }

    pub(super) fn env(&self) -> &Env {
        &self.env
    }

    pub(super) fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    pub(super) fn sign_in_window(&self) -> RefMut<'_, RateWindow> {
        self.sign_in_window.borrow_mut()
    }

    /// Waits until what was written is on disk: an answer never promises what a crash loses.
    pub(super) async fn synced(&self) -> Result<(), Refusal> {
        self.state.storage().sync().await.map_err(|e| {
            worker::console_error!("storage sync failed: {e}");
            Refusal::new(503, "unavailable", "the change is not confirmed on disk; retry")
        })
    }

    pub(super) fn config_table(&self, workspace: &str) -> Result<ConfigTable, StoreError> {
        ConfigTable::new(self.state.storage().sql(), workspace)
    }

    async fn put(
        &self,
        mut req: Request,
        forwarded: ForwardedWorkspace,
    ) -> Result<Response, Refusal> {
        let body = req.text().await?;
        let expected = wr::known_version(req.headers().get(IF_MATCH_VERSION_HEADER)?.as_deref());
        let admin = forwarded.admin.map(|a| a.to_string()).unwrap_or_default();
        let stored = match self.replace(forwarded.workspace.as_str(), &body, expected, admin) {
            Ok(Ok(version)) => version,
            Ok(Err(answer)) => return Ok(answer),
            Err(e) => return Ok(store_failure(&e)),
        };
        // Answer only once the new version is on disk.
        if let Err(e) = self.state.storage().sync().await {
            worker::console_error!("storage sync failed after a configuration PUT: {e}");
            return Err(Refusal::new(
                503,
                "unavailable",
                "the configuration is not confirmed on disk; GET it to see which version holds",
            ));
        }
        worker::console_log!("workspace configuration now at version {stored}");
        Ok(http::json(&serde_json::json!({ "version": stored })))
    }

    /// Checks and stores a new configuration; no `await` inside. The inner error is the
    /// answer to a refused request (412, 422).
    fn replace(
        &self,
        workspace: &str,
        body: &str,
        expected: Option<u64>,
        admin: String,
    ) -> Result<Result<u64, Response>, StoreError> {
        let keys = self.master_keys();
        let table = self.config_table(workspace)?;
        let current = table.load(keys.as_deref())?;
        let version = current.as_ref().map_or(0, |c| c.version);
        if let Err(refusal) = wr::check_version(expected, version) {
            return Ok(Err(http::refusal(&refusal)));
        }
        // A stored configuration that no longer passes today's checks keeps no secrets.
        let current = current.and_then(|c| WorkspaceConfig::parse(&c.json).ok());
        let config = match WorkspaceConfig::parse_update(body, current.as_ref()) {
            Ok(c) => c,
            Err(errors) => {
                let (refusal, body) = wr::invalid_config(&errors);
                return Ok(Err(http::refusal_with_body(&refusal, body.to_string())));
            }
        };
        let next = StoredConfig {
            version: version + 1,
            json: config.to_json(false).to_string(),
            updated_at: worker::Date::now().as_millis() as i64,
            updated_by: admin,
        };
        table.store(keys.as_deref(), &next)?;
        Ok(Ok(next.version))
    }

    /// The admin's view: secrets redacted.
    fn admin_get(&self, workspace: &str) -> Result<Response, StoreError> {
        let Some(stored) = self.config_table(workspace)?.load(self.master_keys().as_deref())?
        else {
            return Ok(http::refusal(&Refusal::new(
                404,
                "no_config",
                "this workspace has no configuration yet: PUT one (PROTOCOL.md §9)",
            )));
        };
        let mut config = stored_json(&stored)?;
        redact(&mut config);
        let etag = format!("\"{}\"", stored.version);
        Ok(http::json_with(
            &serde_json::json!({
                "version": stored.version,
                "updated_at": stored.updated_at,
                "updated_by": stored.updated_by,
                "config": config,
            }),
            &[("etag", &etag)],
        ))
    }

    /// A conversation object's view: unredacted, or 304 if it already holds this version.
    /// Version 0 (never configured) comes with an empty configuration, the default.
    fn internal_get(&self, workspace: &str, known: Option<u64>) -> Result<Response, StoreError> {
        let table = self.config_table(workspace)?;
        let version = table.version()?;
        if known == Some(version) {
            return Ok(ResponseBuilder::new().with_status(304).empty());
        }
        let (version, config) = match table.load(self.master_keys().as_deref())? {
            Some(stored) => (stored.version, stored_json(&stored)?),
            None => (0, serde_json::json!({})),
        };
        Ok(http::json(&serde_json::json!({ "version": version, "config": config })))
    }
}

fn stored_json(stored: &StoredConfig) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(&stored.json)
        .map_err(|_| StoreError::Corrupt(format!("version {} is not JSON", stored.version)))
}

/// Webhook secrets replaced as `WorkspaceConfig::to_json(true)` does, on the stored JSON
/// itself: shown even if it no longer passes a newer release's checks.
fn redact(config: &mut serde_json::Value) {
    if let Some(hooks) = config.get_mut("webhooks").and_then(|h| h.as_array_mut()) {
        for hook in hooks {
            if let Some(secret) = hook.get_mut("secret") {
                *secret = REDACTED_SECRET.into();
            }
        }
    }
}

fn store_failure(e: &StoreError) -> Response {
    // Key ids and SQLite errors at most: never keys or configuration contents.
    worker::console_error!("workspace configuration storage: {e}");
    http::refusal(&e.refusal())
}

impl DurableObject for Workspace {
    fn new(state: State, env: Env) -> Self {
        Self { state, env, sign_in_window: RefCell::new(RateWindow::default()) }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        Ok(http::answer(self.route(req).await))
    }
}

impl Workspace {
    async fn route(&self, mut req: Request) -> Result<Response, Refusal> {
        let forwarded =
            ForwardedWorkspace::from_header(req.headers().get(FORWARDED_HEADER)?.as_deref())?;
        let workspace = forwarded.workspace.to_string();
        let path = req.path();
        let ws = &forwarded.workspace;
        match (req.method(), path.trim_start_matches('/')) {
            (Method::Post, "auth/sign-in") => return self.sign_in(ws, &req.bytes().await?).await,
            (Method::Post, "auth/refresh") => return self.refresh(ws, &req.bytes().await?).await,
            (Method::Post, "auth/sign-out") => return self.sign_out(ws, &req.bytes().await?).await,
            (Method::Get, "access") => {
                let url = req.url()?;
                let param = |name: &str| {
                    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
                };
                let agent = ParticipantId::new(param("agent").unwrap_or_default())
                    .map_err(|e| Refusal::new(400, "bad_participant_id", e.to_string()))?;
                return self.check_access(&agent, param("sid").as_deref());
            }
            (Method::Get, "agents") => return self.list_agents(ws, forwarded.admin.is_some()),
            (Method::Put, p) if p.starts_with("agents/") => {
                let id = ParticipantId::new(&p["agents/".len()..])
                    .map_err(|e| Refusal::new(400, "bad_participant_id", e.to_string()))?;
                let admin = forwarded.admin.clone().ok_or_else(|| {
                    Refusal::new(403, "role_not_allowed", "only an admin may manage agents")
                })?;
                return self.put_agent(ws, &admin, id, &req.bytes().await?).await;
            }
            _ => {}
        }
        let answer = match (req.method(), path.trim_start_matches('/')) {
            (Method::Put, "config") => return self.put(req, forwarded).await,
            (Method::Get, "config/admin") => self.admin_get(&workspace),
            (Method::Get, "config") => {
                let known = wr::known_version(req.headers().get(CONFIG_VERSION_HEADER)?.as_deref());
                self.internal_get(&workspace, known)
            }
            _ => return Err(Refusal::new(404, "not_found", "unknown workspace action")),
        };
        Ok(answer.unwrap_or_else(|e| store_failure(&e)))
    }
}
