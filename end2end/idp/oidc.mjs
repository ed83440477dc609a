// Throwaway OpenID Connect provider for devpulse's SSO tests (see README.md).
// Usage: PORT=4455 CLIENTS='[{"client_id":"devpulse","client_secret":"s3cret",
//        "redirect_uris":["http://127.0.0.1:3000/auth/callback"]}]' node end2end/idp/oidc.mjs
// Test harnesses wait for the line READY on stdout; everything else goes to stderr.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

// oidc-provider prints NOTICEs with console.info (stdout) the first time a default
// hook runs (e.g. renderError). Send them to stderr so stdout carries only READY.
console.info = console.error;

// CLOCK_SKEW_SECONDS: this provider's clock runs that far off (negative: behind), so the
// tokens it signs are already expired by the relying party's clock. Everything the provider
// checks itself uses the same clock, so its own flow still works.
const skew = Number(process.env.CLOCK_SKEW_SECONDS ?? 0) * 1000;
if (skew) {
  const realNow = Date.now;
  Date.now = () => realNow() + skew;
}

const port = Number(process.env.PORT);
if (!port) throw new Error('PORT env var is required');
// ISSUER_HOST=localhost: the provider is another site than a relying party on 127.0.0.1
// (ports do not make sites), so browsers treat its posts as cross-site, as in production.
const issuer = `http://${process.env.ISSUER_HOST ?? '127.0.0.1'}:${port}`;

// Confidential code-flow clients. Extra keys in a CLIENTS entry override these, so a
// test may pass "token_endpoint_auth_method": "client_secret_post" (oidc-provider
// enforces exactly one auth method per client).
const clients = JSON.parse(process.env.CLIENTS ?? '[]').map((c) => ({
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  ...c,
}));

// FRESH_KEYS=1: sign with a key made for this run (a new `kid` every start), so restarting
// the provider on the same port is a key rotation. Otherwise oidc-provider's fixed dev key.
const jwks = process.env.FRESH_KEYS
  ? {
      keys: [
        {
          ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
          kid: randomUUID(),
          alg: 'RS256',
          use: 'sig',
        },
      ],
    }
  : undefined;

const provider = new Provider(issuer, {
  clients,
  ...(jwks ? { jwks } : {}),
  // Any login typed into the dev login form (devInteractions, on by default) becomes
  // the account id; the claims are derived from it so tests choose users by name.
  async findAccount(ctx, login) {
    const email = login.includes('@') ? login : `${login}@example.test`;
    return {
      accountId: login,
      claims: () => ({
        sub: login,
        email,
        email_verified: !login.startsWith('unverified'),
        name: email.split('@')[0],
        groups: login.startsWith('admin') ? ['admins'] : ['staff'],
        // Google's `hd`: the Workspace domain managing the account; a "personal.*" login is
        // a personal account at the same address, which carries none.
        ...(login.startsWith('personal') ? {} : { hd: email.split('@')[1] }),
      }),
    };
  },
  // groups is in profile so the usual "openid email profile" request gets it; the
  // separate "groups" scope exists for relying parties that ask for it explicitly.
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified', 'hd'],
    profile: ['name', 'groups'],
    groups: ['groups'],
  },
  // Default is to put scope claims only in userinfo when an access token is issued.
  // We also put them in the ID token so a test can check either source.
  conformIdTokenClaims: false,
  // The relying party always sends S256 PKCE; confidential clients needn't be forced.
  pkce: { required: () => false },
  // Same values as the library defaults, set explicitly only because the default
  // functions print a "you SHOULD change it" notice each time the process starts.
  // Interaction cookies carry absolute expiry times from the skewed clock: live long enough
  // to outlast the skew.
  ttl: {
    AccessToken: 3600,
    IdToken: 3600,
    Interaction: 3600 + Math.abs(skew) / 1000,
    Session: 14 * 86400,
    Grant: 14 * 86400,
  },
  // Auto-consent: hand back a grant that already covers everything this request
  // asks for, so after the login form the flow redirects straight to redirect_uri.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    const grant = (grantId && (await oidc.provider.Grant.find(grantId)))
      || new oidc.provider.Grant({ accountId: oidc.account.accountId, clientId: oidc.client.clientId });
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    grant.addOIDCClaims([...oidc.requestParamClaims]);
    await grant.save();
    return grant;
  },
});

// `localhost` may resolve to ::1 first: listen on both loopbacks then.
const server = provider.listen(port, process.env.ISSUER_HOST === 'localhost' ? '::' : '127.0.0.1', () => console.log('READY'));

// Exit 0 on SIGTERM/SIGINT; drop keep-alive sockets so close() doesn't hang.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
