//! The `Workspace` object's side of accounts and sign-in (PROTOCOL.md §2.9): every decision
//! is core's (`edgedesk_core::accounts`); this reads the stored account or session, applies
//! the decision, stores the outcome and answers. Each handler reads, decides and writes
//! without an `await` in between, so concurrent sign-ins of one account count every failure.

use edgedesk_core::accounts::session::{parse_refresh_body, Tokens};
use edgedesk_core::accounts::sign_in::{decide, Candidate};
use edgedesk_core::accounts::{
    password, Account, AccountUpdate, AgentRoutingView, RefreshToken, Session, SessionError,
    SignInRefusal, SignInRequest,
};
use edgedesk_core::ids::{ParticipantId, WorkspaceId};
use edgedesk_core::workflow::config::{Routing, WorkspaceConfig};
use worker::{Response, ResponseBuilder};

use super::account_store::{AccountTable, SessionTable};
use super::object::Workspace;
use super::store::{StoreError, StoredConfig};
use crate::config::{self, now_seconds};
use crate::http;
use crate::object_call::{Call, INBOX};
use crate::request::Refusal;

/// The internal path on which the `Inbox` object closes an agent's sockets.
pub const DISCONNECT_PATH: &str = "disconnect";

fn sign_in_refusal(r: &SignInRefusal) -> Response {
    let refusal = Refusal::new(r.status(), r.code(), r.to_string());
    let mut response = http::refusal(&refusal);
    if let Some(seconds) = r.retry_after() {
        let _ = response.headers_mut().set("retry-after", &seconds.to_string());
    }
    response
}

fn session_refusal(e: &SessionError) -> Refusal {
    Refusal::new(e.status(), e.code(), e.to_string())
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        worker::console_error!("accounts storage: {e}");
        e.refusal()
    }
}

impl Workspace {
    fn accounts(&self, workspace: &WorkspaceId) -> Result<AccountTable, StoreError> {
        AccountTable::open(self.sql(), workspace.as_str(), self.master_keys().as_deref())
    }

    /// `POST auth/sign-in`.
    pub(super) async fn sign_in(
        &self,
        workspace: &WorkspaceId,
        body: &[u8],
    ) -> Result<Response, Refusal> {
        let request = match SignInRequest::parse(body) {
            Ok(r) => r,
            Err(r) => return Ok(sign_in_refusal(&r)),
        };
        let keys = config::keyring(self.env())?;
        let now = now_seconds();
        let table = self.accounts(workspace)?;
        let stored = table.by_email(&request.email)?;
        let candidate = stored.as_ref().map(|s| Candidate {
            account: &s.account,
            password_hash: s.password_hash.as_deref(),
            attempts: s.attempts,
        });
        let (decision, attempts) = decide(&request, candidate, &mut self.sign_in_window(), now);
        let Some(stored) = stored else {
            return Ok(sign_in_refusal(&decision.err().unwrap_or(SignInRefusal::WrongCredentials)));
        };
        if let Some(a) = attempts.filter(|a| *a != stored.attempts) {
            table.set_attempts(&stored.account.id, a)?;
        }
        if let Err(refusal) = decision {
            self.synced().await?;
            worker::console_log!("sign-in refused: {}", refusal.code());
            return Ok(sign_in_refusal(&refusal));
        }
        let refresh = RefreshToken::new().map_err(|e| session_refusal(&e))?;
        let session = Session::start(&stored.account, &refresh, now);
        table.sessions().prune_sessions(now)?;
        table.sessions().put_session(&session)?;
        let tokens = Tokens::issue(&keys, workspace, &stored.account, &session, &refresh, now);
        self.answer_tokens(tokens).await
    }

    /// The tokens as the answer, once the session they belong to is on disk.
    async fn answer_tokens(
        &self,
        tokens: Result<Tokens, edgedesk_core::auth::jwt::SignError>,
    ) -> Result<Response, Refusal> {
        let tokens = tokens.map_err(|e| Refusal::new(503, "unavailable", e.to_string()))?;
        self.synced().await?;
        Ok(http::json(&serde_json::to_value(&tokens).unwrap_or_default()))
    }

    /// `POST auth/refresh`: the session's secret rotated, a new access token.
    pub(super) async fn refresh(
        &self,
        workspace: &WorkspaceId,
        body: &[u8],
    ) -> Result<Response, Refusal> {
        let presented = parse_refresh_body(body).map_err(|e| session_refusal(&e))?;
        let keys = config::keyring(self.env())?;
        let now = now_seconds();
        let table = self.accounts(workspace)?;
        let session = table
            .sessions()
            .session(&presented.session)?
            .ok_or_else(|| session_refusal(&SessionError::Unknown))?;
        let next =
            RefreshToken::for_session(session.id.clone()).map_err(|e| session_refusal(&e))?;
        let rotated = match session.refresh(&presented, &next, now) {
            Ok(r) => r,
            Err(SessionError::Reused) => {
                table.sessions().revoke_session(&session.id)?;
                self.synced().await?;
                worker::console_log!("refresh token reused: session revoked");
                return Err(session_refusal(&SessionError::Reused));
            }
            Err(e) => return Err(session_refusal(&e)),
        };
        let account = match table.by_id(&session.agent)? {
            Some(a) if !a.account.disabled => a.account,
            _ => {
                table.sessions().revoke_session(&session.id)?;
                self.synced().await?;
                return Err(session_refusal(&SessionError::Revoked));
            }
        };
        table.sessions().put_session(&rotated)?;
        self.answer_tokens(Tokens::issue(&keys, workspace, &account, &rotated, &next, now)).await
    }

    /// `POST auth/sign-out`: the session revoked. Answers 204 whatever was presented, so it
    /// is safe to repeat; only the holder of the current (or previous) secret revokes.
    pub(super) async fn sign_out(
        &self,
        workspace: &WorkspaceId,
        body: &[u8],
    ) -> Result<Response, Refusal> {
        let presented = parse_refresh_body(body).map_err(|e| session_refusal(&e))?;
        let table = self.accounts(workspace)?;
        if let Some(session) = table.sessions().session(&presented.session)? {
            let hash = presented.secret_hash();
            if hash == session.secret_hash || session.previous_hash.as_deref() == Some(&hash) {
                table.sessions().revoke_session(&session.id)?;
                self.synced().await?;
            }
        }
        Ok(http::no_content())
    }

    /// `GET access?agent=…[&sid=…]`, asked by the front Worker before a staff socket opens:
    /// 204 if the account (if any) is enabled and the session (if any) live.
    pub(super) fn check_access(
        &self,
        agent: &ParticipantId,
        sid: Option<&str>,
    ) -> Result<Response, Refusal> {
        // No key needed: a workspace whose key is unavailable does not block its agents.
        let table = SessionTable::open(self.sql())?;
        if table.disabled(agent)? {
            return Err(Refusal::new(
                403,
                "account_disabled",
                "this account is disabled; ask an admin",
            ));
        }
        if let Some(sid) = sid {
            let session =
                table.session(sid)?.ok_or_else(|| session_refusal(&SessionError::Unknown))?;
            if session.agent != *agent {
                return Err(session_refusal(&SessionError::Unknown));
            }
            session.check_live(now_seconds()).map_err(|e| session_refusal(&e))?;
        }
        Ok(http::no_content())
    }

    /// `GET agents`: every account for admins; for agents the directory (who is who: id,
    /// name, role, disabled), so a console names colleagues who never wrote to it.
    pub(super) fn list_agents(
        &self,
        workspace: &WorkspaceId,
        full: bool,
    ) -> Result<Response, Refusal> {
        let accounts = self.accounts(workspace)?.all()?;
        let routing = self.routing(workspace)?;
        let agents: Vec<serde_json::Value> = accounts
            .into_iter()
            .map(|s| {
                let a = s.account;
                if full {
                    with_routing(&a, &routing)
                } else {
                    let r = AgentRoutingView::of(&routing, a.id.as_str());
                    serde_json::json!({
                        "id": a.id, "name": a.name, "role": a.role, "disabled": a.disabled,
                        "teams": r.teams, "skills": r.skills,
                    })
                }
            })
            .collect();
        Ok(http::json(&serde_json::json!({ "agents": agents })))
    }

    /// `PUT agents/{id}`: creates or replaces an account. Disabling, a new role or name, or a
    /// new password revoke the account's sessions; disabling also closes its inbox sockets.
    pub(super) async fn put_agent(
        &self,
        workspace: &WorkspaceId,
        admin: &ParticipantId,
        id: ParticipantId,
        body: &[u8],
    ) -> Result<Response, Refusal> {
        let update = AccountUpdate::parse(id, body)
            .map_err(|e| Refusal::new(e.status(), e.code(), e.to_string()))?;
        let table = self.accounts(workspace)?;
        update
            .check(admin, table.email_owner(&update.email)?.as_ref())
            .map_err(|e| Refusal::new(e.status(), e.code(), e.to_string()))?;
        let before = table.by_id(&update.id)?;
        let routing = self.routing_change(workspace, &update, admin)?;
        let password_hash = match &update.password {
            Some(p) => Some(
                password::hash(p).map_err(|e| Refusal::new(422, "weak_password", e.to_string()))?,
            ),
            None => before.as_ref().and_then(|b| b.password_hash.clone()),
        };
        let account = edgedesk_core::accounts::Account {
            id: update.id.clone(),
            email: update.email.clone(),
            name: update.name.clone(),
            role: update.role,
            disabled: update.disabled,
            has_password: password_hash.is_some(),
        };
        table.put(&account, password_hash.as_deref())?;
        if let Some(next) = &routing {
            self.config_table(workspace.as_str())?.store(self.master_keys().as_deref(), next)?;
        }
        if update.ends_sessions(before.as_ref().map(|b| &b.account)) {
            table.sessions().revoke_sessions_of(&account.id)?;
        }
        self.synced().await?;
        worker::console_log!("account {} stored by {admin}", account.id);
        if account.disabled {
            self.disconnect(workspace, &account.id).await;
        }
        let status = if before.is_some() { 200 } else { 201 };
        let view = with_routing(&account, &self.routing(workspace)?);
        Ok(ResponseBuilder::new()
            .with_status(status)
            .from_json(&view)
            .unwrap_or_else(|_| http::no_content()))
    }

    /// The configuration with the update's teams, skills and limit written in, as the next
    /// version to store (`None` if routing would read nothing new; core decides). Reads only:
    /// no `await`.
    fn routing_change(
        &self,
        workspace: &WorkspaceId,
        update: &AccountUpdate,
        admin: &ParticipantId,
    ) -> Result<Option<StoredConfig>, Refusal> {
        if update.routing.is_empty() {
            return Ok(None);
        }
        let current = self.config_table(workspace.as_str())?.load(self.master_keys().as_deref())?;
        let next = update
            .routing
            .next_config(&update.id, current.as_ref().map(|c| c.json.as_str()))
            .map_err(|e| Refusal::new(e.status(), e.code(), e.to_string()))?;
        Ok(next.map(|config| StoredConfig {
            version: current.as_ref().map_or(0, |c| c.version) + 1,
            json: config.to_json(false).to_string(),
            updated_at: worker::Date::now().as_millis() as i64,
            updated_by: admin.to_string(),
        }))
    }

    /// The workspace's routing as configured now (the default if unconfigured or unreadable).
    fn routing(&self, workspace: &WorkspaceId) -> Result<Routing, Refusal> {
        let stored = self.config_table(workspace.as_str())?.load(self.master_keys().as_deref())?;
        Ok(stored
            .and_then(|c| WorkspaceConfig::parse(&c.json).ok())
            .map(|c| c.routing)
            .unwrap_or_default())
    }

    /// Asks the inbox to close the agent's sockets now; their access tokens can no longer
    /// open new ones (`check_access`).
    async fn disconnect(&self, workspace: &WorkspaceId, agent: &ParticipantId) {
        let body = serde_json::json!({ "agent": agent }).to_string();
        let answer = Call {
            to: INBOX,
            name: workspace.as_str(),
            method: worker::Method::Post,
            path: DISCONNECT_PATH,
            forwarded: String::new(),
            headers: &[],
            body: Some(body),
        }
        .send(self.env())
        .await;
        if let Err(e) = answer {
            worker::console_error!(
                "could not close a disabled agent's inbox sockets: {}",
                e.message
            );
        }
    }
}

/// An account as admins see it: its fields and its routing (teams, skills, own limit).
fn with_routing(account: &Account, routing: &Routing) -> serde_json::Value {
    let mut v = serde_json::to_value(account).unwrap_or_default();
    if let (Some(fields), Ok(serde_json::Value::Object(r))) = (
        v.as_object_mut(),
        serde_json::to_value(AgentRoutingView::of(routing, account.id.as_str())),
    ) {
        fields.extend(r);
    }
    v
}
