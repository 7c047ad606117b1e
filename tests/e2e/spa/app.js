// OAuth 2.0 authorization code + PKCE (RFC 7636) public client, then GraphQL calls
// with the bearer token. Everything the test inspects has an id:
//   #sign-in, #refresh (buttons), #me, #total, #customers (<ul> of <li>), #error,
//   #status ("ready", "signed-in", "loaded", "error"; for the test to wait on).

const STORE = window.sessionStorage;
const KEYS = {
  api: "kehu.api",
  clientId: "kehu.client_id",
  verifier: "kehu.code_verifier",
  state: "kehu.state",
  accessToken: "kehu.access_token",
  refreshToken: "kehu.refresh_token",
};
const QUERY =
  "{ me { user { email } } customers(first: 50) { totalCount edges { node { id name } } } }";

const $ = (id) => document.getElementById(id);

function setStatus(value) {
  $("status").textContent = value;
  document.body.dataset.status = value;
}

function showError(message) {
  $("error").textContent = String(message);
  setStatus("error");
}

function clearError() {
  $("error").textContent = "";
}

function base64url(bytes) {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(byteCount = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

async function codeChallenge(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(digest);
}

// This page's own URL without query or fragment: the registered redirect_uri.
function redirectUri() {
  return window.location.origin + window.location.pathname;
}

function config() {
  const api = STORE.getItem(KEYS.api);
  const clientId = STORE.getItem(KEYS.clientId);
  if (!api || !clientId) throw new Error("missing configuration: open with ?api=...&client_id=...");
  return { api: api.replace(/\/+$/, ""), clientId };
}

async function readJson(response, what) {
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = null;
  }
  if (!response.ok) {
    const detail = body && (body.error_description || body.error || body.errors)
      ? JSON.stringify(body.error_description || body.error || body.errors)
      : text;
    throw new Error(`${what}: HTTP ${response.status} ${detail}`);
  }
  if (body === null) throw new Error(`${what}: response is not JSON: ${text}`);
  return body;
}

function storeTokens(tokens) {
  if (!tokens.access_token) throw new Error("token response has no access_token");
  STORE.setItem(KEYS.accessToken, tokens.access_token);
  if (tokens.refresh_token) STORE.setItem(KEYS.refreshToken, tokens.refresh_token);
}

// POST to the token endpoint: form-encoded, cross-origin, no cookies.
async function tokenRequest(params) {
  const { api } = config();
  const response = await fetch(`${api}/oauth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params),
    credentials: "omit",
  });
  return readJson(response, "token endpoint");
}

async function signIn() {
  clearError();
  const { api, clientId } = config();
  const verifier = randomString(32); // 43 characters
  const state = randomString(16);
  STORE.setItem(KEYS.verifier, verifier);
  STORE.setItem(KEYS.state, state);
  const params = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri(),
    scope: "openid",
    state,
    code_challenge: await codeChallenge(verifier),
    code_challenge_method: "S256",
  });
  window.location.assign(`${api}/oauth/authorize?${params}`);
}

async function handleCallback(query) {
  const state = query.get("state");
  const expected = STORE.getItem(KEYS.state);
  // Clean the URL first: a reload must not replay the code.
  window.history.replaceState(null, "", redirectUri());
  if (query.has("error")) {
    throw new Error(
      `authorization failed: ${query.get("error")} ${query.get("error_description") || ""}`.trim(),
    );
  }
  if (!expected || state !== expected) throw new Error("state mismatch");
  const verifier = STORE.getItem(KEYS.verifier);
  STORE.removeItem(KEYS.state);
  STORE.removeItem(KEYS.verifier);
  const { clientId } = config();
  const tokens = await tokenRequest({
    grant_type: "authorization_code",
    code: query.get("code"),
    redirect_uri: redirectUri(),
    client_id: clientId,
    code_verifier: verifier,
  });
  storeTokens(tokens);
  setStatus("signed-in");
}

async function refresh() {
  clearError();
  const refreshToken = STORE.getItem(KEYS.refreshToken);
  if (!refreshToken) throw new Error("no refresh token: sign in first");
  const { clientId } = config();
  const tokens = await tokenRequest({
    grant_type: "refresh_token",
    refresh_token: refreshToken,
    client_id: clientId,
  });
  storeTokens(tokens);
  await loadCustomers();
}

async function loadCustomers() {
  const { api } = config();
  const token = STORE.getItem(KEYS.accessToken);
  if (!token) throw new Error("not signed in");
  const response = await fetch(`${api}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: QUERY }),
    credentials: "omit",
  });
  const body = await readJson(response, "graphql");
  if (body.errors && body.errors.length) {
    throw new Error(`graphql: ${body.errors.map((e) => e.message).join("; ")}`);
  }
  const { me, customers } = body.data;
  $("me").textContent = me.user.email;
  $("total").textContent = String(customers.totalCount);
  const list = $("customers");
  list.replaceChildren(
    ...customers.edges.map(({ node }) => {
      const item = document.createElement("li");
      item.textContent = node.name;
      item.dataset.id = node.id;
      return item;
    }),
  );
  setStatus("loaded");
}

function guarded(action) {
  return () => action().catch((error) => showError(error.message || error));
}

async function main() {
  const query = new URLSearchParams(window.location.search);
  if (query.has("api")) STORE.setItem(KEYS.api, query.get("api"));
  if (query.has("client_id")) STORE.setItem(KEYS.clientId, query.get("client_id"));
  if (query.has("api") || query.has("client_id")) {
    window.history.replaceState(null, "", redirectUri());
  }

  $("sign-in").addEventListener("click", guarded(signIn));
  $("refresh").addEventListener("click", guarded(refresh));

  if (query.has("code") || query.has("error")) {
    await handleCallback(query);
    await loadCustomers();
  } else {
    setStatus("ready");
  }
}

guarded(main)();
