// @ts-check
// The admins' Agents page (PROTOCOL.md §2.9): every account of the workspace, and a form to
// add one, change it (name, email, role, a new password, teams, skills, its own limit of open
// conversations) or disable it. Disabling signs the
// agent out everywhere at once. Its static labels are index.html's (data-i18n); names,
// addresses and ids are data.
import { onLangChange, t } from "./i18n.js";

/** @typedef {{ id: string, email: string, name: string, role: string, disabled: boolean, has_password: boolean, teams?: string[], skills?: string[], max_open?: number }} Account */
/** @typedef {{ id: string, name: string }} TeamInfo */

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const input = (name) => /** @type {HTMLInputElement} */ ($("agents-form").querySelector(`[name="${name}"]`));

let ctx = { base: "", workspace: "", token: () => "", me: "" };
/** @type {Account[]} */
let accounts = [];
/** The routing configuration's teams, which an agent may join. @type {TeamInfo[]} */
let teams = [];

function url(id) {
  const ws = encodeURIComponent(ctx.workspace);
  return `${ctx.base}/v1/workspaces/${ws}/agents${id ? `/${encodeURIComponent(id)}` : ""}`;
}

async function call(method, id, body) {
  const r = await fetch(url(id), {
    method,
    headers: { authorization: `Bearer ${ctx.token()}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(json.message || `HTTP ${r.status}`);
  return json;
}

function showError(text) {
  const e = $("agents-error");
  e.hidden = !text;
  e.textContent = text || "";
}

function render() {
  const body = $("agents-rows");
  body.replaceChildren(
    ...accounts.map((a) => {
      const row = document.createElement("tr");
      row.dataset.testid = "agents-row";
      row.dataset.id = a.id;
      const teamNames = (a.teams || []).map((id) => (teams.find((x) => x.id === id) || { name: id }).name).join(", ");
      const cells = [
        [a.name, true],
        [a.email, true],
        [t(`role.${a.role}`), false],
        [teamNames || t("agents.teamsNone"), !!teamNames],
        [t(a.disabled ? "agents.disabled" : "agents.active"), false],
      ];
      for (const [text, data] of cells) {
        const td = document.createElement("td");
        td.textContent = String(text);
        td.toggleAttribute("data-user-content", !!data);
        row.append(td);
      }
      const td = document.createElement("td");
      const edit = document.createElement("button");
      edit.type = "button";
      edit.className = "btn btn-sm";
      edit.textContent = t("agents.edit");
      edit.setAttribute("aria-label", t("agents.editLabel", { name: a.name }));
      edit.dataset.testid = "agents-edit";
      edit.addEventListener("click", () => fill(a));
      td.append(edit);
      row.append(td);
      return row;
    }),
  );
}

/** Puts an account (or a blank one) in the form. @param {Account | null} a */
function fill(a) {
  input("id").value = a ? a.id : "";
  input("id").readOnly = !!a;
  input("name").value = a ? a.name : "";
  input("email").value = a ? a.email : "";
  /** @type {HTMLSelectElement} */ ($("agents-role")).value = a ? a.role : "agent";
  input("password").value = "";
  input("password").placeholder = t(a && a.has_password ? "agents.unchanged" : "agents.minLength");
  input("disabled").checked = a ? a.disabled : false;
  renderTeams(a ? a.teams || [] : []);
  input("skills").value = a ? (a.skills || []).join(", ") : "";
  input("max_open").value = a && a.max_open ? String(a.max_open) : "";
  showError("");
  input(a ? "name" : "id").focus();
}

/** One checkbox per team of the routing configuration, `member` ticked. @param {string[]} member */
function renderTeams(member) {
  $("agents-no-teams").hidden = teams.length > 0;
  $("agents-team-list").replaceChildren(
    ...teams.map((team) => {
      const label = document.createElement("label");
      label.className = "check";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = "team";
      box.value = team.id;
      box.checked = member.includes(team.id);
      box.dataset.testid = "agents-team";
      const name = document.createElement("span");
      name.textContent = team.name;
      name.toggleAttribute("data-user-content", true);
      label.append(box, " ", name);
      return label;
    }),
  );
}

/** The teams ticked in the form. @returns {string[]} */
function tickedTeams() {
  return [...$("agents-team-list").querySelectorAll('input[name="team"]:checked')].map((b) => /** @type {HTMLInputElement} */ (b).value);
}

/** The teams an agent can join: the admin's view of the configuration (none if unconfigured). */
async function loadTeams() {
  const ws = encodeURIComponent(ctx.workspace);
  const r = await fetch(`${ctx.base}/v1/workspaces/${ws}/config`, { headers: { authorization: `Bearer ${ctx.token()}` } });
  if (r.status === 404) return [];
  const json = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(json.message || `HTTP ${r.status}`);
  const configured = (json.config && json.config.routing && json.config.routing.teams) || [];
  return configured.map((x) => ({ id: String(x.id), name: String(x.name || x.id) }));
}

async function load() {
  try {
    teams = await loadTeams();
    renderTeams(tickedTeams());
    accounts = (await call("GET")).agents || [];
    render();
  } catch (e) {
    showError(t("agents.listFailed", { why: e.message }));
  }
}

async function save(e) {
  e.preventDefault();
  const id = input("id").value.trim();
  const body = {
    email: input("email").value.trim(),
    name: input("name").value.trim(),
    role: /** @type {HTMLSelectElement} */ ($("agents-role")).value,
    disabled: input("disabled").checked,
  };
  const password = input("password").value;
  if (password) body.password = password;
  body.teams = tickedTeams();
  body.skills = input("skills").value.split(/[,，、]/).map((x) => x.trim()).filter(Boolean);
  const max = input("max_open").value.trim();
  body.max_open = max ? Number(max) : null;
  if (!id) return showError(t("agents.needId"));
  if (body.disabled && id === ctx.me) return showError(t("agents.notSelf"));
  try {
    await call("PUT", id, body);
    fill(null);
    await load();
    $("agents-status").textContent = t("agents.saved", { name: body.name });
  } catch (err) {
    showError(err.message);
  }
}

let wired = false;

/** Opens the page. @param {{ base: string, workspace: string, token: () => string, me: string }} c */
export async function openAgents(c) {
  ctx = c;
  if (!wired) {
    wired = true;
    $("agents-form").addEventListener("submit", save);
    $("agents-new").addEventListener("click", () => fill(null));
    $("agents-close").addEventListener("click", () => /** @type {HTMLDialogElement} */ ($("agents")).close());
    onLangChange(() => {
      render();
      const id = input("id").value;
      const shown = accounts.find((a) => a.id === id);
      input("password").placeholder = t(shown && shown.has_password ? "agents.unchanged" : "agents.minLength");
    });
  }
  /** @type {HTMLDialogElement} */ ($("agents")).showModal();
  fill(null);
  $("agents-status").textContent = "";
  await load();
}
