// A real OpenID Connect provider (panva/oidc-provider) for kehu's tests, on plain http://127.0.0.1.
//
// Config is JSON, from argv[2] or the OIDC_PEER_CONFIG env var:
//   {
//     "port": 0,                      // 0 or absent: any free port (the issuer says which)
//     "clients": [{ "client_id": "...", "client_secret": "...", "redirect_uris": ["..."],
//                   "token_endpoint_auth_method": "client_secret_basic" }],
//     "accounts": [{ "sub": "...", "email": "...", "email_verified": true, "name": "..." }]
//   }
// Prints `READY <issuer>` on stdout once listening; everything else goes to stderr.
//
// Sign-in uses the built-in development interaction pages. The login name typed there selects
// the account whose `sub` equals it or whose email equals it (case-insensitively); the session is
// then always keyed by that account's `sub`. An unknown login is rejected: the authorization ends
// with `error=access_denied` at the client's redirect_uri, as a real user failing to sign in would.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parse as parseQuery } from 'node:querystring';

import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] ?? process.env.OIDC_PEER_CONFIG ?? '{}');
const accounts = config.accounts ?? [];

function lookup(login) {
  const wanted = String(login ?? '').trim();
  return accounts.find((a) => a.sub === wanted)
    ?? accounts.find((a) => a.email && a.email.toLowerCase() === wanted.toLowerCase());
}

// A fresh signing key per run: no committed private key, and the RP must really fetch the JWKS.
// (Without `jwks` oidc-provider falls back to a well-known development key and warns.)
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = {
  ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig',
};

// Listen first, so that port 0 works and the issuer carries the real port with no race.
const server = createServer();
await new Promise((resolve) => { server.listen(config.port ?? 0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: (config.clients ?? []).map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  })),
  jwks: { keys: [jwk] },
  // Random per run; a fixed default would only print a "must change" warning.
  cookies: { keys: [randomBytes(32).toString('hex')] },
  // Recent oidc-provider only demands PKCE from public clients; kehu always sends it, so make a
  // missing code_challenge an error for confidential clients too. Only S256 is supported at all.
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // By default (conformIdTokenClaims: true) scope claims go only to userinfo when an access
  // token is issued; the RP reads email/name from the ID token, so put them there too.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
  },
  async findAccount(_ctx, id) {
    const account = lookup(id);
    if (!account) return undefined;
    return {
      accountId: account.sub,
      async claims() {
        return {
          sub: account.sub,
          email: account.email,
          email_verified: account.email_verified ?? false,
          name: account.name,
        };
      },
    };
  },
  renderError(ctx, out, error) {
    // Plain text (the default page is HTML) and a log line: test failures then show why.
    console.error('oidc-provider error:', out, error?.message);
    ctx.type = 'text';
    ctx.body = JSON.stringify(out);
  },
});

// The development login form accepts any name and would make it the session's accountId as is;
// take over its login submission (consent and GET stay with devInteractions) to resolve the
// name to an account's sub, or to refuse it.
provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || !/^\/interaction\/[^/]+$/.test(ctx.path)) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.prompt.name !== 'login') return next();

  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  const form = parseQuery(Buffer.concat(chunks).toString('utf8'));
  const account = lookup(form.login);
  const result = account
    ? { login: { accountId: account.sub } }
    : { error: 'access_denied', error_description: `unknown login ${JSON.stringify(form.login)}` };
  // interactionFinished answers the 303 on ctx.res itself; tell Koa not to respond again.
  ctx.respond = false;
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
});

// Static clients are only validated when first used; check them now so that a bad config fails
// at start-up, with oidc-provider's message on stderr, rather than midway through a test.
for (const { client_id: id } of config.clients ?? []) {
  try {
    await provider.Client.find(id);
  } catch (err) {
    console.error(`client ${JSON.stringify(id)} rejected: ${err.error_description ?? err.message}`);
    process.exit(2);
  }
}

server.on('request', provider.callback());

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

process.stdout.write(`READY ${issuer}\n`);
